//! The organizer tools' routes (`/admin…`), in the host function. Only hosts on the organizer list
//! get here (the caller answers 403 to anyone else); every POST carries the session's CSRF token.
//!
//! | route | what |
//! |---|---|
//! | `GET /admin` | the training catalog, with a form per recording not yet published |
//! | `POST /admin/trainings/{id}/recording` | review (without `confirm`), then publish (with `confirm=yes`) a recording |
//! | `GET /admin/trainings/new`, `POST /admin/trainings` | add a training |
//! | `GET /admin/trainings/{id}/edit`, `POST /admin/trainings/{id}` | edit it (never its recording) |
//! | `GET /admin/overview` | the campaign overview: people, RSVPs, consent, bounces, messages, cost |
//! | `GET /admin/templates` | the invitation text in each language, with its segment count |
//! | `POST /admin/templates/{message}/{language}` | save a wording (`action=save`, checked) or restore the standard one (`action=reset`) |
//! | `GET /admin/settings` | the campaign's settings as deployed, each with the parameter that changes it |
//! | `GET /admin/gatherings` | the gatherings waiting for approval, oldest first |
//! | `POST /admin/gatherings/{id}/review` | approve (`decision=approve`: listed at once) or decline one, once |
//! | `GET /admin/keywords`, `POST /admin/keywords` | the texting keywords; add one |
//! | `POST /admin/keywords/{WORD}/remove` | remove one (never a gathering's code) |

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

use super::super::admin::gatherings::{self, QUEUE_PAGE, review_text};
use super::super::admin::keywords::{
    self, KeywordField, KeywordForm, KeywordProblem, KeywordRow, KeywordsPage, keyword_text,
};
use super::super::admin::overview::{Prices, overview_text};
use super::super::admin::settings::{RulesForm, SettingsPage};
use super::super::admin::templates::{self, Editor, template_text};
use super::super::admin::training_form::{self, TrainingForm, TrainingProblem};
use super::super::{HostError, Hosting, SignedIn, admin};
use super::{HostApp, form_value, other_language_href};
use crate::admin::{AuditLog, Organizer, recordings};
use crate::domain::{
    GatheringId, KeywordTarget, KeywordWord, Language, Training, TrainingId, TrainingUrl,
};
use crate::outbound::{OutboxStore, SendQueue};
use crate::secrets::SecretStore;
use crate::stats::CampaignStats;
use crate::store::{
    CampaignRules, CampaignRulesStore, GatheringStore, HostStore, InviteStore, KeywordStore,
    PutKeyword, PutTraining, RegistrationStore, RemovedKeyword, ReviewDecision, Reviewed,
    RsvpStore, StoredTemplate, TemplateMessage, TemplateStore, TrainingStore, UpdateTraining,
};
use crate::web::{query_param, see_other};

/// A page or action of the organizer tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AdminRoute {
    /// The organizer tools' home: the training catalog.
    Home,
    /// Review (POST without `confirm`) and publish (with) a training's recording.
    Recording(TrainingId),
    /// The form for a new training.
    NewTraining,
    /// `POST`: adds a training.
    Trainings,
    /// The form to edit a training.
    EditTraining(TrainingId),
    /// `POST`: saves a training.
    Training(TrainingId),
    /// The campaign overview.
    Overview,
    /// The campaign settings.
    Settings,
    /// The message templates.
    Templates,
    /// `POST`: save or reset one message's wording in one language.
    Template(TemplateMessage, Language),
    /// The gatherings waiting for approval.
    Gatherings,
    /// `POST`: approve or decline a gathering.
    Review(GatheringId),
    /// The keywords; `POST`: add one.
    Keywords,
    /// `POST`: remove a keyword.
    RemoveKeyword(KeywordWord),
}

/// The route of the path segments after `admin`.
pub(super) fn route(segments: &[&str]) -> Option<AdminRoute> {
    let training = |s: &str| TrainingId::parse(s).ok();
    Some(match segments {
        [] => AdminRoute::Home,
        ["trainings"] => AdminRoute::Trainings,
        ["trainings", "new"] => AdminRoute::NewTraining,
        ["trainings", id] => AdminRoute::Training(training(id)?),
        ["trainings", id, "edit"] => AdminRoute::EditTraining(training(id)?),
        ["trainings", id, "recording"] => AdminRoute::Recording(training(id)?),
        ["overview"] => AdminRoute::Overview,
        ["settings"] => AdminRoute::Settings,
        ["templates"] => AdminRoute::Templates,
        ["templates", message, language] => {
            AdminRoute::Template(TemplateMessage::parse(message)?, Language::parse(language)?)
        }
        ["gatherings"] => AdminRoute::Gatherings,
        ["gatherings", id, "review"] => AdminRoute::Review(GatheringId::parse(id).ok()?),
        ["keywords"] => AdminRoute::Keywords,
        ["keywords", word, "remove"] => AdminRoute::RemoveKeyword(KeywordWord::parse(word).ok()?),
        _ => return None,
    })
}

impl<H, G, R, O, Q, A, I, T, S, K> HostApp<H, G, R, O, Q, A, I, T, S, K>
where
    H: HostStore,
    G: GatheringStore + RsvpStore + KeywordStore + TemplateStore + CampaignRulesStore,
    R: RegistrationStore,
    O: OutboxStore,
    Q: SendQueue,
    A: AuditLog,
    I: InviteStore,
    T: TrainingStore,
    S: CampaignStats,
    K: SecretStore,
{
    /// An organizer's request (the caller checked they are one).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn admin(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        language: Language,
        s: &SignedIn,
        route: AdminRoute,
        method: Method,
        now: OffsetDateTime,
    ) -> Result<Response<Body>, HostError> {
        let read = matches!(method, Method::GET | Method::HEAD);
        match (route, read) {
            (AdminRoute::Home, true) => {
                self.admin_home(request, language, s, None, StatusCode::OK)
                    .await
            }
            (AdminRoute::Recording(_), true) => Ok(see_other("/admin")),
            (AdminRoute::Recording(id), false) => {
                self.admin_recording(app, request, language, s, &id, now)
                    .await
            }
            (AdminRoute::NewTraining, true) => Ok(self.training_form(
                request,
                language,
                s,
                &TrainingForm::default(),
                &[],
                None,
                StatusCode::OK,
            )),
            (AdminRoute::Trainings, false) => {
                self.create_training(app, request, language, s, now).await
            }
            (AdminRoute::EditTraining(id), true) => {
                let training = self
                    .trainings
                    .get_training(&id)
                    .await?
                    .ok_or(HostError::NotFound)?;
                Ok(self.training_form(
                    request,
                    language,
                    s,
                    &TrainingForm::of(&training),
                    &[],
                    Some(&id),
                    StatusCode::OK,
                ))
            }
            (AdminRoute::Training(id), false) => {
                self.update_training(app, request, language, s, &id, now)
                    .await
            }
            (AdminRoute::Training(id), true) => {
                Ok(see_other(&format!("/admin/trainings/{}/edit", id.as_str())))
            }
            (AdminRoute::Overview, true) => {
                let overview = self.stats.overview().await?;
                let t = overview_text(language);
                let prices = Prices {
                    sms_segment_usd: self.settings.sms_segment_price_usd,
                    email_usd: self.settings.email_price_usd,
                };
                let href = other_language_href(request, language);
                let html = admin::overview::overview_page(
                    &self.frame(language, t.title, Some(&s.csrf), &href),
                    &overview,
                    prices,
                    now.date(),
                );
                Ok(self.html(request, StatusCode::OK, html))
            }
            (AdminRoute::Templates, true) => {
                let t = template_text(language);
                let notice = notice_after(request, [("saved", t.saved), ("reset", t.was_reset)]);
                self.templates(request, language, s, None, notice, StatusCode::OK)
                    .await
            }
            (AdminRoute::Template(message, of), false) => {
                self.save_template(app, request, language, s, message, of, now)
                    .await
            }
            (AdminRoute::Settings, true) => {
                let t = admin::settings::settings_text(language);
                let rules = self.gatherings.campaign_rules().await?;
                let form = RulesForm::of(&rules.clone().unwrap_or(self.settings.deployed_rules()));
                let notice = notice_after(request, [("saved", t.saved), ("reset", t.was_reset)]);
                Ok(self.settings_page(
                    request,
                    language,
                    s,
                    rules.as_ref(),
                    &form,
                    Vec::new(),
                    notice,
                    StatusCode::OK,
                ))
            }
            (AdminRoute::Settings, false) => {
                self.save_settings(app, request, language, s, now).await
            }
            (AdminRoute::Gatherings, true) => {
                self.review_queue(request, language, s, StatusCode::OK, None)
                    .await
            }
            (AdminRoute::Review(id), false) => {
                self.review(app, request, language, s, &id, now).await
            }
            (AdminRoute::Keywords, true) => {
                let notice = notice_after(
                    request,
                    [
                        ("added", keyword_text(language).added),
                        ("removed", keyword_text(language).removed),
                    ],
                );
                self.keywords(
                    request,
                    language,
                    s,
                    &KeywordForm::default(),
                    &[],
                    notice,
                    StatusCode::OK,
                )
                .await
            }
            (AdminRoute::Keywords, false) => self.add_keyword(app, request, language, s, now).await,
            (AdminRoute::RemoveKeyword(word), false) => {
                self.remove_keyword(app, request, language, s, &word).await
            }
            _ => Ok(self.not_allowed(request, language)),
        }
    }

    /// The organizer home: the training catalog (a notice after a change, `error` for a link that
    /// is not one).
    async fn admin_home(
        &self,
        request: &Request,
        language: Language,
        s: &SignedIn,
        error: Option<&str>,
        status: StatusCode,
    ) -> Result<Response<Body>, HostError> {
        let summaries = recordings::list_trainings(&self.trainings).await?;
        let t = admin::admin_text(language);
        let notice = notice_after(
            request,
            [
                ("published", t.published_notice),
                ("created", t.training_created),
                ("saved", t.training_saved),
            ],
        );
        let href = other_language_href(request, language);
        let html = admin::trainings_page(
            &self.frame(language, t.title, Some(&s.csrf), &href),
            &summaries,
            &s.csrf,
            notice,
            error,
        );
        Ok(self.html(request, status, html))
    }

    /// Publishing a recording: the link is checked, then reviewed (what happens, to how many), then
    /// published once the organizer confirms. Audited by `recordings::publish_recording`, as the
    /// CLI's publication is; the audit names the organizer by the keyed hash of their email.
    async fn admin_recording(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        language: Language,
        s: &SignedIn,
        id: &TrainingId,
        now: OffsetDateTime,
    ) -> Result<Response<Body>, HostError> {
        app.check_csrf(s, &form_value(request, "csrf").unwrap_or_default())?;
        let url = match TrainingUrl::parse(&form_value(request, "url").unwrap_or_default()) {
            Ok(url) => url,
            Err(error) => {
                let message = error.to_string();
                return self
                    .admin_home(
                        request,
                        language,
                        s,
                        Some(&message),
                        StatusCode::UNPROCESSABLE_ENTITY,
                    )
                    .await;
            }
        };
        if form_value(request, "confirm").as_deref() != Some("yes") {
            let preview = recordings::preview_recording(&self.trainings, id).await?;
            let t = admin::admin_text(language);
            let href = other_language_href(request, language);
            let html = admin::review_page(
                &self.frame(language, t.review_title, Some(&s.csrf), &href),
                &preview,
                url.as_str(),
                &s.csrf,
            );
            return Ok(self.html(request, StatusCode::OK, html));
        }
        let by = Organizer::parse(&format!("organizer {}", s.host().as_str()))
            .map_err(|_| HostError::NotOrganizer)?;
        let request_ = recordings::RecordingRequest {
            training: id,
            url: &url,
            by: &by,
        };
        let published =
            recordings::publish_recording(&self.trainings, &self.audit, &request_, now).await?;
        tracing::info!(
            registrants = published.registrants,
            "recording published from the organizer page"
        );
        Ok(see_other(&format!("/admin?published={}", id.as_str())))
    }

    #[allow(clippy::too_many_arguments)]
    fn training_form(
        &self,
        request: &Request,
        language: Language,
        s: &SignedIn,
        values: &TrainingForm,
        problems: &[TrainingProblem],
        editing: Option<&TrainingId>,
        status: StatusCode,
    ) -> Response<Body> {
        let t = admin::admin_text(language);
        let heading = if editing.is_some() {
            t.edit_training_title
        } else {
            t.add_training
        };
        let href = other_language_href(request, language);
        let html = admin::training_form_page(
            &self.frame(language, heading, Some(&s.csrf), &href),
            values,
            problems,
            &s.csrf,
            editing.map(TrainingId::as_str),
        );
        self.html(request, status, html)
    }

    /// The training a posted form describes (as `id`), or the form again with each problem (`422`).
    /// `starts_after`: the earliest start accepted (a new training's); `editing`: the training edited.
    #[allow(clippy::too_many_arguments, clippy::result_large_err)]
    fn posted_training(
        &self,
        request: &Request,
        language: Language,
        s: &SignedIn,
        form: &TrainingForm,
        starts_after: Option<OffsetDateTime>,
        id: TrainingId,
        editing: Option<&TrainingId>,
    ) -> Result<Training, Response<Body>> {
        let t = admin::admin_text(language);
        training_form::validate(form, starts_after, t)
            .and_then(|draft| {
                draft
                    .build(id)
                    .map_err(|_| vec![(training_form::TrainingField::Duration, t.err_duration)])
            })
            .map_err(|problems| {
                self.training_form(
                    request,
                    language,
                    s,
                    form,
                    &problems,
                    editing,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
            })
    }

    /// Adds a training: a new random id, so a form posted twice makes two trainings; the page the
    /// organizer lands on (`303` to `/admin?created=…`) shows both, and they can edit either.
    async fn create_training(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        language: Language,
        s: &SignedIn,
        now: OffsetDateTime,
    ) -> Result<Response<Body>, HostError> {
        let form = TrainingForm::from_urlencoded(request.body().as_ref());
        app.check_csrf(s, &form.csrf)?;
        let training = match self.posted_training(
            request,
            language,
            s,
            &form,
            Some(now),
            TrainingId::random(),
            None,
        ) {
            Ok(training) => training,
            Err(page) => return Ok(page),
        };
        match self.trainings.put_training(&training, now).await? {
            PutTraining::Created | PutTraining::AlreadyExists => {
                tracing::info!(training = %training.id, "training added from the organizer page");
                Ok(see_other(&format!(
                    "/admin?created={}",
                    training.id.as_str()
                )))
            }
        }
    }

    /// Saves a training's details; its recording is left as it is.
    async fn update_training(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        language: Language,
        s: &SignedIn,
        id: &TrainingId,
        now: OffsetDateTime,
    ) -> Result<Response<Body>, HostError> {
        let form = TrainingForm::from_urlencoded(request.body().as_ref());
        app.check_csrf(s, &form.csrf)?;
        let training =
            match self.posted_training(request, language, s, &form, None, id.clone(), Some(id)) {
                Ok(training) => training,
                Err(page) => return Ok(page),
            };
        match self.trainings.update_training(&training, now).await? {
            UpdateTraining::Updated => {
                tracing::info!(training = %id, "training saved from the organizer page");
                Ok(see_other(&format!("/admin?saved={}", id.as_str())))
            }
            UpdateTraining::NoSuchTraining => Err(HostError::NotFound),
        }
    }

    /// The approval queue (`notice` after a decision).
    async fn review_queue(
        &self,
        request: &Request,
        language: Language,
        s: &SignedIn,
        status: StatusCode,
        notice: Option<&str>,
    ) -> Result<Response<Body>, HostError> {
        let t = review_text(language);
        let waiting = self.gatherings.awaiting_review(QUEUE_PAGE + 1).await?;
        let notice = notice.or_else(|| {
            notice_after(
                request,
                [("approved", t.approved), ("declined", t.declined)],
            )
        });
        let href = other_language_href(request, language);
        let html = gatherings::queue_page(
            &self.frame(language, t.title, Some(&s.csrf), &href),
            &waiting,
            &s.csrf,
            notice,
        );
        Ok(self.html(request, status, html))
    }

    /// Approves or declines a waiting gathering, once; a second decision (another organizer, a
    /// double click) changes nothing and says so (`409`).
    async fn review(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        language: Language,
        s: &SignedIn,
        id: &GatheringId,
        now: OffsetDateTime,
    ) -> Result<Response<Body>, HostError> {
        app.check_csrf(s, &form_value(request, "csrf").unwrap_or_default())?;
        let decision = match form_value(request, "decision").as_deref() {
            Some("approve") => ReviewDecision::Approve,
            Some("decline") => ReviewDecision::Decline,
            _ => return Err(HostError::Invalid(Vec::new())),
        };
        match self.gatherings.review(id, decision, now).await? {
            Reviewed::Approved => {
                tracing::info!(gathering = %id, "gathering approved");
                Ok(see_other("/admin/gatherings?approved=1"))
            }
            Reviewed::Declined => {
                tracing::info!(gathering = %id, "gathering declined");
                Ok(see_other("/admin/gatherings?declined=1"))
            }
            Reviewed::NotAwaiting => {
                self.review_queue(
                    request,
                    language,
                    s,
                    StatusCode::CONFLICT,
                    Some(review_text(language).already_reviewed),
                )
                .await
            }
        }
    }

    /// The keywords page, with the add form as posted and its problems.
    #[allow(clippy::too_many_arguments)]
    async fn keywords(
        &self,
        request: &Request,
        language: Language,
        s: &SignedIn,
        form: &KeywordForm,
        problems: &[KeywordProblem],
        notice: Option<&str>,
        status: StatusCode,
    ) -> Result<Response<Body>, HostError> {
        let t = keyword_text(language);
        let mut rows = Vec::new();
        for keyword in self.gatherings.keywords().await? {
            let gathering = match &keyword.target {
                KeywordTarget::Campaign => None,
                KeywordTarget::Gathering(id) => self.gatherings.get(id).await?,
            };
            let named = gathering
                .as_ref()
                .map(|g| (g.title.as_str(), g.code.as_str()));
            rows.push(KeywordRow::of(&keyword, named, t));
        }
        let href = other_language_href(request, language);
        let html = keywords::keywords_page(
            &self.frame(language, t.title, Some(&s.csrf), &href),
            &KeywordsPage {
                number: &self.settings.text_number,
                rows: &rows,
                csrf: &s.csrf,
                notice,
                form,
                problems,
            },
        );
        Ok(self.html(request, status, html))
    }

    /// Adds a keyword: checked, its gathering looked up by code, then stored once.
    async fn add_keyword(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        language: Language,
        s: &SignedIn,
        now: OffsetDateTime,
    ) -> Result<Response<Body>, HostError> {
        let form = KeywordForm::from_urlencoded(request.body().as_ref());
        app.check_csrf(s, &form.csrf)?;
        let t = keyword_text(language);
        let form = &form;
        let refused = |problems: Vec<KeywordProblem>| async move {
            self.keywords(
                request,
                language,
                s,
                form,
                &problems,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        };
        let valid = match keywords::validate(form, t) {
            Ok(valid) => valid,
            Err(problems) => return refused(problems).await,
        };
        let gathering = match &valid.gathering {
            None => None,
            Some(code) => match self.gatherings.by_code(code).await? {
                Some(g) => Some(g.id),
                None => return refused(vec![(KeywordField::Code, t.err_no_gathering)]).await,
            },
        };
        let keyword = valid.keyword(gathering);
        match self.gatherings.put_keyword(&keyword, now).await? {
            PutKeyword::Created => {
                tracing::info!(keyword = %keyword.word, "keyword added");
                Ok(see_other("/admin/keywords?added=1"))
            }
            PutKeyword::AlreadyExists => refused(vec![(KeywordField::Word, t.err_exists)]).await,
            PutKeyword::TakenByGatheringCode => {
                refused(vec![(KeywordField::Word, t.err_taken)]).await
            }
        }
    }

    async fn remove_keyword(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        language: Language,
        s: &SignedIn,
        word: &KeywordWord,
    ) -> Result<Response<Body>, HostError> {
        app.check_csrf(s, &form_value(request, "csrf").unwrap_or_default())?;
        match self.gatherings.remove_keyword(word).await? {
            RemovedKeyword::Removed => {
                tracing::info!(keyword = %word, "keyword removed");
                Ok(see_other("/admin/keywords?removed=1"))
            }
            RemovedKeyword::NoSuchKeyword => {
                self.keywords(
                    request,
                    language,
                    s,
                    &KeywordForm::default(),
                    &[],
                    Some(keyword_text(language).not_a_keyword),
                    StatusCode::NOT_FOUND,
                )
                .await
            }
        }
    }

    /// The templates page; `posted`: a wording that was refused, with its problems, shown in place.
    async fn templates(
        &self,
        request: &Request,
        language: Language,
        s: &SignedIn,
        posted: Option<Editor>,
        notice: Option<&str>,
        status: StatusCode,
    ) -> Result<Response<Body>, HostError> {
        let stored = self.gatherings.templates().await?;
        let mut posted = posted;
        let editors: Vec<Editor> = TemplateMessage::ALL
            .into_iter()
            .flat_map(|m| [(m, Language::En), (m, Language::Es)])
            .map(|(message, of)| {
                match posted.take_if(|p| p.message == message && p.language == of) {
                    Some(editor) => editor,
                    None => Editor {
                        message,
                        language: of,
                        text: crate::messages::wording(&stored, message, of).to_owned(),
                        reworded: stored
                            .iter()
                            .any(|t| t.message == message && t.language == of),
                        problems: Vec::new(),
                    },
                }
            })
            .collect();
        let t = template_text(language);
        let href = other_language_href(request, language);
        let html = templates::templates_page(
            &self.frame(language, t.title, Some(&s.csrf), &href),
            &editors,
            &self.settings.program.name,
            &s.csrf,
            notice,
        );
        Ok(self.html(request, status, html))
    }

    /// Saves a checked wording, or restores the standard one.
    #[allow(clippy::too_many_arguments)]
    async fn save_template(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        language: Language,
        s: &SignedIn,
        message: TemplateMessage,
        of: Language,
        now: OffsetDateTime,
    ) -> Result<Response<Body>, HostError> {
        app.check_csrf(s, &form_value(request, "csrf").unwrap_or_default())?;
        if form_value(request, "action").as_deref() == Some("reset") {
            self.gatherings.reset_template(message, of).await?;
            tracing::info!(
                message = message.as_str(),
                language = of.code(),
                "template reset"
            );
            return Ok(see_other("/admin/templates?reset=1"));
        }
        let text = form_value(request, "text").unwrap_or_default();
        let t = template_text(language);
        match templates::check(message, &text, &self.settings.program.name, t) {
            Ok(text) => {
                let template = StoredTemplate {
                    message,
                    language: of,
                    text,
                };
                self.gatherings
                    .put_template(&template, s.host(), now)
                    .await?;
                tracing::info!(
                    message = message.as_str(),
                    language = of.code(),
                    "template saved"
                );
                Ok(see_other("/admin/templates?saved=1"))
            }
            Err(problems) => {
                let stored = self.gatherings.templates().await?;
                let editor = Editor {
                    message,
                    language: of,
                    text,
                    reworded: stored
                        .iter()
                        .any(|t| t.message == message && t.language == of),
                    problems,
                };
                self.templates(
                    request,
                    language,
                    s,
                    Some(editor),
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
        }
    }

    /// The settings page: the rules form (`form`, with `problems` when an entry was refused) and
    /// the rules set at deployment.
    #[allow(clippy::too_many_arguments)]
    fn settings_page(
        &self,
        request: &Request,
        language: Language,
        s: &SignedIn,
        set_here: Option<&CampaignRules>,
        form: &RulesForm,
        problems: Vec<(&'static str, String)>,
        notice: Option<&str>,
        status: StatusCode,
    ) -> Response<Body> {
        let t = admin::settings::settings_text(language);
        let href = other_language_href(request, language);
        let html = admin::settings::settings_page(
            &self.frame(language, t.title, Some(&s.csrf), &href),
            SettingsPage {
                deployed: &self.settings,
                set_here,
                form,
                problems,
                notice,
                csrf: &s.csrf,
            },
        );
        self.html(request, status, html)
    }

    /// `POST /admin/settings`: `action` `save` (the rules, checked) or `reset` (the deployed
    /// rules apply again).
    async fn save_settings(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        language: Language,
        s: &SignedIn,
        now: OffsetDateTime,
    ) -> Result<Response<Body>, HostError> {
        app.check_csrf(s, &form_value(request, "csrf").unwrap_or_default())?;
        if form_value(request, "action").as_deref() == Some("reset") {
            self.gatherings.reset_campaign_rules().await?;
            tracing::info!("campaign rules reset to the deployed ones");
            return Ok(see_other("/admin/settings?reset=1"));
        }
        let field = |name| form_value(request, name).unwrap_or_default();
        let form = RulesForm {
            approval: field("approval"),
            quota: field("quota"),
            window: field("window"),
            countries: field("countries"),
            send_from: field("send_from"),
            send_until: field("send_until"),
        };
        match form.check(admin::settings::settings_text(language)) {
            Ok(rules) => {
                self.gatherings
                    .put_campaign_rules(&rules, s.host(), now)
                    .await?;
                tracing::info!(
                    approval_required = rules.approval_required,
                    invite_quota = rules.invite_quota,
                    invite_window_days = rules.invite_window_days,
                    countries = rules.phone_countries.len(),
                    send_from = rules.sending_hours.start(),
                    send_until = rules.sending_hours.end(),
                    "campaign rules saved"
                );
                Ok(see_other("/admin/settings?saved=1"))
            }
            Err(problems) => {
                let stored = self.gatherings.campaign_rules().await?;
                Ok(self.settings_page(
                    request,
                    language,
                    s,
                    stored.as_ref(),
                    &form,
                    problems,
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                ))
            }
        }
    }
}

/// The notice a page shows after a change redirected to it: the first of `notices` whose query
/// parameter the redirect set (`?saved=1`).
fn notice_after<const N: usize>(
    request: &Request,
    notices: [(&str, &'static str); N],
) -> Option<&'static str> {
    notices
        .into_iter()
        .find(|(param, _)| query_param(request, param).is_some())
        .map(|(_, notice)| notice)
}
