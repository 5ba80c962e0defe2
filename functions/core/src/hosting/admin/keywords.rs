//! The keywords page (`/admin/keywords`): the words people text to join, which organizers add and
//! remove without a deployment. A keyword either joins the campaign (the conversation asks for a ZIP
//! code and offers gatherings nearby) or joins one gathering, and sets the language the conversation
//! continues in. Opt-out, opt-in and help words can never be keywords, and a word a gathering already
//! uses as its code is refused by the store.

use askama::Template;

use super::super::page::{Frame, layout};
use crate::domain::{
    CampaignKeyword, GatheringCode, KeywordTarget, KeywordWord, KeywordWordError, Language,
};
use crate::messages::render;

/// The keywords page's wording in one language.
#[derive(Debug)]
pub struct KeywordText {
    pub title: &'static str,
    pub intro: &'static str,
    pub none: &'static str,
    pub col_word: &'static str,
    pub col_leads_to: &'static str,
    pub col_language: &'static str,
    pub col_remove: &'static str,
    pub to_campaign: &'static str,
    pub to_gathering: &'static str,
    pub remove: &'static str,
    pub add_title: &'static str,
    pub label_word: &'static str,
    pub hint_word: &'static str,
    pub label_language: &'static str,
    pub label_target: &'static str,
    pub target_campaign: &'static str,
    pub target_gathering: &'static str,
    pub label_code: &'static str,
    pub hint_code: &'static str,
    pub add: &'static str,
    pub added: &'static str,
    pub removed: &'static str,
    pub err_word_length: &'static str,
    pub err_word_characters: &'static str,
    pub err_word_compliance: &'static str,
    pub err_code: &'static str,
    pub err_no_gathering: &'static str,
    pub err_exists: &'static str,
    pub err_taken: &'static str,
    pub not_a_keyword: &'static str,
    pub back: &'static str,
}

const EN: KeywordText = KeywordText {
    title: "Keywords",
    intro: "Words people text to {number} to join. Upper or lower case makes no difference.",
    none: "There are no keywords yet.",
    col_word: "Keyword",
    col_leads_to: "Leads to",
    col_language: "Replies in",
    col_remove: "Remove",
    to_campaign: "Joining the campaign (finds a gathering nearby)",
    to_gathering: "The gathering {title} (code {code})",
    remove: "Remove {word}",
    add_title: "Add a keyword",
    label_word: "Keyword",
    hint_word: "2 to 20 letters or digits, like JOIN.",
    label_language: "Replies in",
    label_target: "Texting it leads to",
    target_campaign: "Joining the campaign",
    target_gathering: "One gathering",
    label_code: "The gathering's code",
    hint_code: "Only for one gathering: the code on its page, like PORCHTALK.",
    add: "Add the keyword",
    added: "The keyword was added: texts with it are answered from now on.",
    removed: "The keyword was removed.",
    err_word_length: "A keyword has 2 to 20 letters and digits, like JOIN.",
    err_word_characters: "A keyword has only the letters A to Z and the digits 0 to 9, like JOIN.",
    err_word_compliance: "STOP, START, HELP and their Spanish words always mean opt-out, opt-in or help, so they can't be keywords.",
    err_code: "Please give the gathering's code, like PORCHTALK.",
    err_no_gathering: "No gathering has this code.",
    err_exists: "This keyword exists already.",
    err_taken: "A gathering uses this word as its code, so people who text it join that gathering.",
    not_a_keyword: "There is no such keyword; nothing was changed.",
    back: "Organizer tools",
};

const ES: KeywordText = KeywordText {
    title: "Palabras clave",
    intro: "Palabras que las personas envían por mensaje de texto al {number} para unirse. No importa si van en mayúsculas o minúsculas.",
    none: "Todavía no hay palabras clave.",
    col_word: "Palabra clave",
    col_leads_to: "Lleva a",
    col_language: "Responde en",
    col_remove: "Quitar",
    to_campaign: "Unirse a la campaña (busca una reunión cercana)",
    to_gathering: "La reunión {title} (código {code})",
    remove: "Quitar {word}",
    add_title: "Agregar una palabra clave",
    label_word: "Palabra clave",
    hint_word: "De 2 a 20 letras o dígitos, como UNIRME.",
    label_language: "Responde en",
    label_target: "Enviarla lleva a",
    target_campaign: "Unirse a la campaña",
    target_gathering: "Una reunión",
    label_code: "El código de la reunión",
    hint_code: "Solo para una reunión: el código de su página, como PORCHTALK.",
    add: "Agregar la palabra clave",
    added: "Se agregó la palabra clave: desde ahora se responden los mensajes que la usan.",
    removed: "Se quitó la palabra clave.",
    err_word_length: "Una palabra clave tiene de 2 a 20 letras y dígitos, como UNIRME.",
    err_word_characters: "Una palabra clave tiene solo las letras de la A a la Z y los dígitos del 0 al 9, como UNIRME.",
    err_word_compliance: "STOP, START, HELP y sus palabras en español siempre significan darse de baja, volver a recibir mensajes o pedir ayuda, así que no pueden ser palabras clave.",
    err_code: "Escribe el código de la reunión, como PORCHTALK.",
    err_no_gathering: "Ninguna reunión tiene este código.",
    err_exists: "Esta palabra clave ya existe.",
    err_taken: "Una reunión usa esta palabra como código, así que quienes la envían se unen a esa reunión.",
    not_a_keyword: "No existe esa palabra clave; no se cambió nada.",
    back: "Herramientas de organización",
};

pub fn keyword_text(language: Language) -> &'static KeywordText {
    match language {
        Language::En => &EN,
        Language::Es => &ES,
    }
}

/// The add form as posted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeywordForm {
    pub word: String,
    pub language: String,
    /// `campaign` or `gathering`.
    pub target: String,
    pub code: String,
    pub csrf: String,
}

impl KeywordForm {
    pub fn from_urlencoded(body: &[u8]) -> Self {
        let mut form = Self::default();
        for (key, value) in form_urlencoded::parse(body) {
            let value = value.into_owned();
            match key.as_ref() {
                "word" => form.word = value,
                "language" => form.language = value,
                "target" => form.target = value,
                "code" => form.code = value,
                "csrf" => form.csrf = value,
                _ => {}
            }
        }
        form
    }

    fn for_gathering(&self) -> bool {
        self.target == "gathering"
    }
}

/// A field of the add form, named as in the HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeywordField {
    Word,
    Code,
}

impl KeywordField {
    pub fn name(self) -> &'static str {
        match self {
            Self::Word => "word",
            Self::Code => "code",
        }
    }
}

pub type KeywordProblem = (KeywordField, &'static str);

/// A form that passed the checks that need no lookup: the word, the language and, for one
/// gathering, its code (still to be looked up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidKeyword {
    pub word: KeywordWord,
    pub language: Language,
    pub gathering: Option<GatheringCode>,
}

impl ValidKeyword {
    /// The keyword, once the gathering's code is looked up (`None` for the campaign).
    pub fn keyword(self, gathering: Option<crate::domain::GatheringId>) -> CampaignKeyword {
        CampaignKeyword {
            word: self.word,
            target: gathering.map_or(KeywordTarget::Campaign, KeywordTarget::Gathering),
            language: self.language,
        }
    }
}

/// Checks the add form; every problem at once.
pub fn validate(form: &KeywordForm, t: &KeywordText) -> Result<ValidKeyword, Vec<KeywordProblem>> {
    let mut problems = Vec::new();
    let word = KeywordWord::parse(&form.word)
        .map_err(|e| {
            problems.push((
                KeywordField::Word,
                match e {
                    KeywordWordError::Length => t.err_word_length,
                    KeywordWordError::Characters => t.err_word_characters,
                    KeywordWordError::Compliance(_) => t.err_word_compliance,
                },
            ))
        })
        .ok();
    let gathering = if form.for_gathering() {
        match GatheringCode::parse(&form.code) {
            Ok(code) => Some(Some(code)),
            Err(_) => {
                problems.push((KeywordField::Code, t.err_code));
                None
            }
        }
    } else {
        Some(None)
    };
    let language = Language::parse(form.language.trim()).unwrap_or_default();
    match (word, gathering) {
        (Some(word), Some(gathering)) if problems.is_empty() => Ok(ValidKeyword {
            word,
            language,
            gathering,
        }),
        _ => Err(problems),
    }
}

/// A keyword as listed: what it leads to, in words (the gathering's title and code looked up).
#[derive(Debug, Clone)]
pub struct KeywordRow {
    pub word: String,
    pub leads_to: String,
    pub language: Language,
}

impl KeywordRow {
    /// `gathering`: the title and code of the gathering a keyword leads to, when it still exists.
    pub fn of(keyword: &CampaignKeyword, gathering: Option<(&str, &str)>, t: &KeywordText) -> Self {
        let leads_to = match (&keyword.target, gathering) {
            (KeywordTarget::Campaign, _) => t.to_campaign.to_owned(),
            (KeywordTarget::Gathering(_), Some((title, code))) => {
                render(t.to_gathering, &[("title", title), ("code", code)])
            }
            (KeywordTarget::Gathering(id), None) => {
                render(t.to_gathering, &[("title", "?"), ("code", id.as_str())])
            }
        };
        Self {
            word: keyword.word.as_str().to_owned(),
            leads_to,
            language: keyword.language,
        }
    }
}

struct Row {
    word: String,
    leads_to: String,
    language: &'static str,
    remove_label: String,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<h1>{{ t.title }}</h1>
{% if let Some(notice) = notice %}<p class="notice" role="status">{{ notice }}</p>
{% endif %}{% if !errors.is_empty() %}<div class="summary" role="alert" tabindex="-1" id="summary"><ul>
{% for (field, message) in errors %}<li><a href="#{{ field }}">{{ message }}</a></li>
{% endfor %}</ul></div>
{% endif %}<p>{{ intro }} <a href="/admin">{{ t.back }}</a></p>
{% if rows.is_empty() %}<p>{{ t.none }}</p>
{% else %}<div class="table-wrap"><table>
<thead><tr><th scope="col">{{ t.col_word }}</th><th scope="col">{{ t.col_leads_to }}</th><th scope="col">{{ t.col_language }}</th><th scope="col">{{ t.col_remove }}</th></tr></thead>
<tbody>
{% for r in rows %}<tr>
<th scope="row">{{ r.word }}</th>
<td>{{ r.leads_to }}</td>
<td>{{ r.language }}</td>
<td><form method="post" action="/admin/keywords/{{ r.word }}/remove">
<input type="hidden" name="csrf" value="{{ csrf }}">
<button type="submit" class="secondary" aria-label="{{ r.remove_label }}">{{ t.col_remove }}</button>
</form></td>
</tr>
{% endfor %}</tbody>
</table></div>
{% endif %}<h2>{{ t.add_title }}</h2>
<form method="post" action="/admin/keywords" novalidate>
<input type="hidden" name="csrf" value="{{ csrf }}">
<div class="field">
<label for="word">{{ t.label_word }}</label>
<p class="hint" id="word-hint">{{ t.hint_word }}</p>
<input class="text" type="text" id="word" name="word" value="{{ form.word }}" autocapitalize="characters" autocomplete="off" required aria-describedby="word-hint{% if word_error.is_some() %} word-error{% endif %}"{% if word_error.is_some() %} aria-invalid="true"{% endif %}>
{% if let Some(e) = word_error %}<p class="error" id="word-error">{{ e }}</p>
{% endif %}</div>
<div class="field">
<label for="language">{{ t.label_language }}</label>
<select class="text" id="language" name="language">
<option value="en"{% if form.language != "es" %} selected{% endif %} lang="en">English</option>
<option value="es"{% if form.language == "es" %} selected{% endif %} lang="es">Español</option>
</select>
</div>
<fieldset class="field">
<legend>{{ t.label_target }}</legend>
<div class="check"><input type="radio" id="target-campaign" name="target" value="campaign"{% if form.target != "gathering" %} checked{% endif %}><label for="target-campaign">{{ t.target_campaign }}</label></div>
<div class="check"><input type="radio" id="target-gathering" name="target" value="gathering"{% if form.target == "gathering" %} checked{% endif %}><label for="target-gathering">{{ t.target_gathering }}</label></div>
</fieldset>
<div class="field">
<label for="code">{{ t.label_code }}</label>
<p class="hint" id="code-hint">{{ t.hint_code }}</p>
<input class="text" type="text" id="code" name="code" value="{{ form.code }}" autocapitalize="characters" autocomplete="off" aria-describedby="code-hint{% if code_error.is_some() %} code-error{% endif %}"{% if code_error.is_some() %} aria-invalid="true"{% endif %}>
{% if let Some(e) = code_error %}<p class="error" id="code-error">{{ e }}</p>
{% endif %}</div>
<button type="submit">{{ t.add }}</button>
</form>
"##
)]
struct KeywordsHtml<'a> {
    t: &'static KeywordText,
    intro: String,
    notice: Option<&'a str>,
    errors: Vec<(&'static str, &'static str)>,
    rows: Vec<Row>,
    csrf: &'a str,
    form: &'a KeywordForm,
    word_error: Option<&'static str>,
    code_error: Option<&'static str>,
}

/// What the keywords page shows besides the list.
pub struct KeywordsPage<'a> {
    /// The number people text (E.164).
    pub number: &'a str,
    pub rows: &'a [KeywordRow],
    pub csrf: &'a str,
    pub notice: Option<&'a str>,
    /// The add form as posted (empty on a first visit) and its problems.
    pub form: &'a KeywordForm,
    pub problems: &'a [KeywordProblem],
}

pub fn keywords_page(frame: &Frame, page: &KeywordsPage) -> String {
    let t = keyword_text(frame.language);
    let error = |field: KeywordField| {
        page.problems
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| *m)
    };
    let rows = page
        .rows
        .iter()
        .map(|r| Row {
            word: r.word.clone(),
            leads_to: r.leads_to.clone(),
            language: match r.language {
                Language::En => "English",
                Language::Es => "Español",
            },
            remove_label: render(t.remove, &[("word", &r.word)]),
        })
        .collect();
    let body = KeywordsHtml {
        t,
        intro: render(t.intro, &[("number", page.number)]),
        notice: page.notice,
        errors: page.problems.iter().map(|(f, m)| (f.name(), *m)).collect(),
        rows,
        csrf: page.csrf,
        form: page.form,
        word_error: error(KeywordField::Word),
        code_error: error(KeywordField::Code),
    }
    .render();
    layout(frame, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(word: &str) -> KeywordForm {
        KeywordForm {
            word: word.into(),
            language: "es".into(),
            target: "campaign".into(),
            ..KeywordForm::default()
        }
    }

    #[test]
    fn a_keyword_for_the_campaign_needs_no_code() {
        let valid = validate(&form(" vamos "), &EN).expect("valid");
        assert_eq!(valid.word.as_str(), "VAMOS");
        assert_eq!(valid.language, Language::Es);
        assert_eq!(valid.keyword(None).target, KeywordTarget::Campaign);
    }

    #[test]
    fn a_keyword_for_one_gathering_needs_its_code() {
        let mut f = form("PARK");
        f.target = "gathering".into();
        assert_eq!(
            validate(&f, &EN),
            Err(vec![(KeywordField::Code, EN.err_code)])
        );
        f.code = "porchtalk".into();
        let valid = validate(&f, &EN).expect("valid");
        assert_eq!(
            valid.gathering.map(|c| c.as_str().to_owned()),
            Some("PORCHTALK".into())
        );
    }

    #[test]
    fn opt_out_words_and_malformed_words_are_refused_in_the_organizers_language() {
        assert_eq!(
            validate(&form("STOP"), &ES),
            Err(vec![(KeywordField::Word, ES.err_word_compliance)])
        );
        assert_eq!(
            validate(&form("J"), &EN),
            Err(vec![(KeywordField::Word, EN.err_word_length)])
        );
        assert_eq!(
            validate(&form("JOIN US"), &EN),
            Err(vec![(KeywordField::Word, EN.err_word_characters)])
        );
    }
}
