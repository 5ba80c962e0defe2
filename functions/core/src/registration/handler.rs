//! The HTTP side of registration: `POST /register` (JSON from the form's script, form-encoded from
//! the page without JavaScript), the form pages `GET /join`, `GET /g/{id}` (and their `/thanks`),
//! and the scripts `GET /embed.js`, `GET /form.js`. Errors map to statuses in one place
//! ([`RegisterError::status`]); every refusal says what to fix, in the person's language, and
//! stores and sends nothing.

use std::borrow::Cow;

use http::header::{HeaderValue, ORIGIN};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use super::form::{self, Field, RawForm, Target};
use super::page::{self, EventSummary, PageTarget, Style};
use super::text::form_text;
use super::{
    Answer, Client, Event, Keys, RegisterError, Registrar, Settings, event_details, find_event,
    training_details,
};
use crate::config::RegisterConfig;
use crate::domain::{GatheringId, Language, TrainingId};
use crate::email::TokenKey;
use crate::links::language as page_language;
use crate::outbound::{OutboxStore, SendQueue};
use crate::privacy::{ContactHasher, Sealer};
use crate::secrets::SecretStore;
use crate::store::{
    CampaignRulesStore, GatheringStore, RegistrationStore, RsvpStore, StoreError, TemplateStore,
    TrainingStore,
};
use crate::web::{content_type, header, insert, is_self_origin, query_param, see_other, source_ip};

/// Bodies larger than this are refused with 413 (a full form is well under 2 KB).
pub const BODY_LIMIT: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Register,
    EmbedJs,
    FormJs,
    /// A form page; `thanks`: its thank-you page.
    Page {
        target: Target,
        thanks: bool,
    },
}

/// The `register` function: its dependencies, built once per cold start.
pub struct Register<S, G, T, O, Q, K> {
    config: RegisterConfig,
    settings: Settings,
    store: S,
    gatherings: G,
    trainings: T,
    outbox: O,
    queue: Q,
    sealer: Sealer,
    secrets: K,
    keys: OnceCell<Keys>,
}

/// Failure to fetch the keys.
#[derive(Debug, thiserror::Error)]
enum KeyError {
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    #[error("the contact hash key is unusable: {0}")]
    Hash(#[from] crate::privacy::HashKeyError),
    #[error("the email link key is unusable: {0}")]
    Link(#[from] crate::email::TokenKeyError),
}

impl<S, G, T, O, Q, K> Register<S, G, T, O, Q, K>
where
    S: RegistrationStore,
    G: GatheringStore + RsvpStore + CampaignRulesStore + TemplateStore,
    T: TrainingStore,
    O: OutboxStore,
    Q: SendQueue,
    K: SecretStore,
{
    /// Builds the handler. Does no I/O: keys are fetched on the first request that needs them.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: RegisterConfig,
        store: S,
        gatherings: G,
        trainings: T,
        outbox: O,
        queue: Q,
        sealer: Sealer,
        secrets: K,
    ) -> Self {
        let settings = config.settings();
        Self {
            config,
            settings,
            store,
            gatherings,
            trainings,
            outbox,
            queue,
            sealer,
            secrets,
            keys: OnceCell::new(),
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn gatherings(&self) -> &G {
        &self.gatherings
    }

    async fn keys(&self) -> Result<&Keys, KeyError> {
        self.keys
            .get_or_try_init(|| async {
                let hash_key = self
                    .secrets
                    .fetch(&self.config.contact_hash_key_parameter)
                    .await?;
                let link_key = self.secrets.fetch(&self.config.link_key_parameter).await?;
                Ok::<_, KeyError>(Keys {
                    hasher: ContactHasher::from_base64(&hash_key)?,
                    link_key: TokenKey::from_base64(&link_key)?,
                })
            })
            .await
    }

    /// Handles one request; never fails at the Lambda level.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        self.handle_at(&request, OffsetDateTime::now_utc()).await
    }

    /// Handles one request as of `now`.
    pub async fn handle_at(&self, request: &Request, now: OffsetDateTime) -> Response<Body> {
        let Some(route) = route(request) else {
            return self.error_page(
                request,
                StatusCode::NOT_FOUND,
                form_text(page_language(request)).not_found,
            );
        };
        let method = request.method().clone();
        match (route, method) {
            (Route::EmbedJs, Method::GET | Method::HEAD) => script(page::EMBED_JS),
            (Route::FormJs, Method::GET | Method::HEAD) => script(page::FORM_JS),
            (Route::Register, Method::OPTIONS) => self.preflight(request),
            (Route::Register, Method::POST) => self.post(request, now).await,
            (
                Route::Page {
                    target,
                    thanks: false,
                },
                Method::GET | Method::HEAD,
            ) => self.form(request, target, now).await,
            (Route::Page { thanks: true, .. }, Method::GET | Method::HEAD) => {
                self.thanks(request, now).await
            }
            _ => {
                let mut response = self.error_page(
                    request,
                    StatusCode::METHOD_NOT_ALLOWED,
                    form_text(page_language(request)).err_unreadable,
                );
                response.headers_mut().insert(
                    http::header::ALLOW,
                    HeaderValue::from_static("GET, HEAD, POST, OPTIONS"),
                );
                response
            }
        }
    }

    fn registrar<'a>(
        &'a self,
        keys: &'a Keys,
        settings: &'a Settings,
    ) -> Registrar<'a, S, G, T, O, Q> {
        Registrar {
            settings,
            store: &self.store,
            gatherings: &self.gatherings,
            trainings: &self.trainings,
            outbox: &self.outbox,
            queue: &self.queue,
            sealer: &self.sealer,
            keys,
        }
    }

    // --- POST /register -------------------------------------------------------------------------

    async fn post(&self, request: &Request, now: OffsetDateTime) -> Response<Body> {
        let is_json = content_type(request).is_some_and(|t| t.starts_with("application/json"));
        let body = request.body().as_ref();
        let fallback = page_language(request);
        let origin = header(request, ORIGIN);
        let cors = self.cors_origin(request);
        if origin.is_some() && cors.is_none() {
            tracing::warn!(status = 403, "registration from a disallowed origin");
            let text = form_text(fallback);
            return json_response(
                StatusCode::FORBIDDEN,
                json!({ "message": text.err_origin }),
                None,
            );
        }
        if body.len() > BODY_LIMIT {
            tracing::warn!(status = 413, bytes = body.len(), "registration too large");
            let text = form_text(fallback);
            return if is_json {
                json_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    json!({ "message": text.err_too_large }),
                    cors,
                )
            } else {
                self.error_page(request, StatusCode::PAYLOAD_TOO_LARGE, text.err_too_large)
            };
        }
        let raw = if is_json {
            match serde_json::from_slice::<RawForm>(body) {
                Ok(raw) => raw,
                Err(_) => {
                    tracing::warn!(status = 400, "registration body is not the form's JSON");
                    return json_response(
                        StatusCode::BAD_REQUEST,
                        json!({ "message": form_text(fallback).err_unreadable }),
                        cors,
                    );
                }
            }
        } else {
            RawForm::from_urlencoded(body)
        };
        let language = raw.language_or(fallback);
        if raw.is_bot() {
            // Answered like a success, so the bot learns nothing; nothing is stored or sent.
            tracing::warn!(outcome = "honeypot", "registration dropped");
            let text = form_text(language);
            let lines = vec![text.thanks_signup.to_owned()];
            return if is_json {
                json_response(
                    StatusCode::OK,
                    json!({ "status": "joined", "lines": lines, "share_url": null }),
                    cors,
                )
            } else {
                self.thanks_response(request, language, &lines, None)
            };
        }
        let (settings, keys) = match (self.settings_for(&raw).await, self.keys().await) {
            (Ok(settings), Ok(keys)) => (settings, keys),
            (settings, keys) => {
                if let Err(error) = settings {
                    tracing::error!(error = %error, "campaign rules or wordings unreadable");
                }
                if let Err(error) = keys {
                    tracing::error!(error = %error, "registration keys unavailable");
                }
                return self.failure(
                    request,
                    is_json,
                    language,
                    StatusCode::SERVICE_UNAVAILABLE,
                    cors,
                );
            }
        };
        let client = Client {
            ip: source_ip(request),
            origin: origin.clone(),
        };
        let result = self
            .registrar(keys, &settings)
            .register(&raw, None, &client, now)
            .await;
        match result {
            Ok(answer) => {
                if is_json {
                    json_response(
                        StatusCode::OK,
                        json!({
                            "status": answer.status,
                            "lines": answer.lines(),
                            "share_url": answer.share_url,
                            "title": answer.title,
                            "when": answer.when,
                        }),
                        cors,
                    )
                } else {
                    see_other(&thanks_location(&raw, &answer))
                }
            }
            Err(error) => {
                let status = error.status();
                if status.is_server_error() {
                    tracing::error!(error = %error, status = status.as_u16(), "registration failed");
                } else {
                    tracing::warn!(error = %error, status = status.as_u16(), "registration refused");
                }
                let text = form_text(language);
                match error {
                    RegisterError::Invalid(errors) => {
                        let messages = form::messages(&errors, language, &settings.rules);
                        if is_json {
                            let list: Vec<_> = messages
                                .iter()
                                .map(|(field, message)| json!({ "field": field.name(), "message": message }))
                                .collect();
                            let summary = crate::messages::render(
                                text.error_summary,
                                &[("count", &list.len().to_string())],
                            );
                            json_response(
                                status,
                                json!({ "message": summary, "errors": list }),
                                cors,
                            )
                        } else {
                            self.form_with_errors(request, &raw, language, &messages, now)
                                .await
                        }
                    }
                    RegisterError::TooMany => {
                        self.message(request, is_json, status, text.too_many, cors)
                    }
                    RegisterError::NoSuchEvent => {
                        self.message(request, is_json, status, text.not_found, cors)
                    }
                    RegisterError::Ended => {
                        self.message(request, is_json, status, text.ended, cors)
                    }
                    _ => self.failure(request, is_json, language, status, cors),
                }
            }
        }
    }

    fn message(
        &self,
        request: &Request,
        is_json: bool,
        status: StatusCode,
        message: &str,
        cors: Option<String>,
    ) -> Response<Body> {
        if is_json {
            json_response(status, json!({ "message": message }), cors)
        } else {
            self.error_page(request, status, message)
        }
    }

    /// The settings a form is registered with: for a form that gives a phone number, with what
    /// organizers set that its text depends on (the countries whose numbers may be texted, the
    /// confirmation's wording), read concurrently.
    async fn settings_for(&self, raw: &RawForm) -> Result<Cow<'_, Settings>, StoreError> {
        if raw.phone.as_deref().is_none_or(|p| p.trim().is_empty()) {
            return Ok(Cow::Borrowed(&self.settings));
        }
        let (rules, wordings) = tokio::join!(
            self.gatherings.campaign_rules(),
            self.gatherings.templates()
        );
        let (rules, wordings) = (rules?, wordings?);
        Ok(if rules.is_none() && wordings.is_empty() {
            Cow::Borrowed(&self.settings)
        } else {
            Cow::Owned(self.settings.with_organizers(rules.as_ref(), wordings))
        })
    }

    fn failure(
        &self,
        request: &Request,
        is_json: bool,
        language: Language,
        status: StatusCode,
        cors: Option<String>,
    ) -> Response<Body> {
        self.message(
            request,
            is_json,
            status,
            form_text(language).unavailable,
            cors,
        )
    }

    /// The origin to answer CORS for: the request's `Origin` when it is this site or allowed to embed
    /// the form; `None` otherwise.
    fn cors_origin(&self, request: &Request) -> Option<String> {
        let origin = header(request, ORIGIN)?;
        if is_self_origin(request, &origin, &self.settings.public_base_url)
            || self
                .config
                .embed_origins
                .iter()
                .any(|p| origin_matches(p, &origin))
        {
            Some(origin)
        } else {
            None
        }
    }

    fn preflight(&self, request: &Request) -> Response<Body> {
        let Some(origin) = self.cors_origin(request) else {
            let mut response = Response::new(Body::Empty);
            *response.status_mut() = StatusCode::FORBIDDEN;
            return response;
        };
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        insert(headers, "access-control-allow-origin", &origin);
        insert(headers, "access-control-allow-methods", "POST, OPTIONS");
        insert(headers, "access-control-allow-headers", "content-type");
        insert(headers, "access-control-max-age", "600");
        insert(headers, "vary", "Origin");
        response
    }

    // --- pages ----------------------------------------------------------------------------------

    fn frame_ancestors(&self) -> String {
        let mut sources = vec!["'self'".to_owned()];
        sources.extend(self.config.embed_origins.iter().cloned());
        sources.join(" ")
    }

    fn html(&self, request: &Request, status: StatusCode, html: String) -> Response<Body> {
        let embed = query_param(request, "embed").as_deref() == Some("1");
        let ancestors = if embed {
            self.frame_ancestors()
        } else {
            "'none'".to_owned()
        };
        crate::web::html_page(request, status, &page::page_csp(&ancestors), html)
    }

    fn error_page(&self, request: &Request, status: StatusCode, message: &str) -> Response<Body> {
        let html = page::error_page(&page::ErrorPage {
            language: page_language(request),
            program: &self.settings.program.name,
            message,
            embed: query_param(request, "embed").as_deref() == Some("1"),
        });
        self.html(request, status, html)
    }

    async fn summary(
        &self,
        target: &Target,
        language: Language,
        now: OffsetDateTime,
    ) -> Result<PageTarget, RegisterError> {
        Ok(
            match find_event(&self.gatherings, &self.trainings, target, now).await? {
                Event::Campaign => PageTarget::Campaign,
                Event::Gathering(gathering) => {
                    let details = event_details(&gathering, language);
                    PageTarget::Gathering {
                        id: gathering.id.as_str().to_owned(),
                        summary: EventSummary {
                            title: details.title,
                            when: details.when,
                            place: details.place,
                        },
                    }
                }
                Event::Training(training) => {
                    let details = training_details(&training, language);
                    PageTarget::Training {
                        id: training.id.as_str().to_owned(),
                        summary: EventSummary {
                            title: details.title,
                            when: details.when,
                            place: String::new(),
                        },
                    }
                }
            },
        )
    }

    async fn form(&self, request: &Request, target: Target, now: OffsetDateTime) -> Response<Body> {
        let language = page_language(request);
        let raw = RawForm {
            referral: query_param(request, "ref"),
            language: Some(language.code().to_owned()),
            ..RawForm::default()
        };
        self.render_form(request, target, &raw, language, &[], StatusCode::OK, now)
            .await
    }

    async fn form_with_errors(
        &self,
        request: &Request,
        raw: &RawForm,
        language: Language,
        errors: &[(Field, String)],
        now: OffsetDateTime,
    ) -> Response<Body> {
        let target = match (
            raw.gathering.as_deref().map(GatheringId::parse),
            &raw.training,
        ) {
            (Some(Ok(id)), _) => Target::Gathering(id),
            (_, Some(t)) if !t.trim().is_empty() => Target::Training(t.trim().to_owned()),
            _ => Target::Campaign {
                wants_to_host: raw.host.0,
            },
        };
        self.render_form(
            request,
            target,
            raw,
            language,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
            now,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn render_form(
        &self,
        request: &Request,
        target: Target,
        raw: &RawForm,
        language: Language,
        errors: &[(Field, String)],
        status: StatusCode,
        now: OffsetDateTime,
    ) -> Response<Body> {
        let text = form_text(language);
        let page_target = match self.summary(&target, language, now).await {
            Ok(t) => t,
            Err(RegisterError::NoSuchEvent) => {
                return self.error_page(request, StatusCode::NOT_FOUND, text.not_found);
            }
            Err(RegisterError::Ended) => {
                return self.error_page(request, StatusCode::GONE, text.ended);
            }
            Err(error) => {
                tracing::error!(error = %error, "form page failed");
                return self.error_page(request, StatusCode::SERVICE_UNAVAILABLE, text.unavailable);
            }
        };
        let embed = query_param(request, "embed").as_deref() == Some("1");
        let style = Style::from_query(
            query_param(request, "font").as_deref(),
            query_param(request, "color").as_deref(),
        );
        let prefix = base_path(request);
        let action = format!("{prefix}/register");
        let script_src = format!("{prefix}/form.js");
        let submission_id = raw
            .submission_id
            .as_deref()
            .and_then(form::SubmissionId::parse)
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(crate::ids::random_id);
        let other = match language {
            Language::En => Language::Es,
            Language::Es => Language::En,
        };
        let other_language_href = crate::web::language_href(request, other);
        let html = page::form_page(&page::FormPage {
            language,
            program: &self.settings.program.name,
            action: &action,
            target: &page_target,
            values: raw,
            errors,
            submission_id: &submission_id,
            referral: raw
                .referral
                .as_deref()
                .filter(|r| form::ReferralCode::parse(r).is_some()),
            embed,
            safety_url: &self.settings.campaign.safety_url,
            terms_url: &self.config.terms_url,
            privacy_url: &self.config.privacy_url,
            other_language_href,
            style: &style,
            script_src: &script_src,
            register_url: &action,
        });
        self.html(request, status, html)
    }

    async fn thanks(&self, request: &Request, now: OffsetDateTime) -> Response<Body> {
        let language = page_language(request);
        let text = form_text(language);
        let Some(submission) = query_param(request, "s")
            .as_deref()
            .and_then(form::SubmissionId::parse)
        else {
            return self.error_page(request, StatusCode::NOT_FOUND, text.not_found);
        };
        match self
            .store
            .finished_submission(submission.as_str(), now)
            .await
        {
            Ok(Some(answer)) => match serde_json::from_str::<Answer>(&answer) {
                Ok(answer) => self.thanks_response(
                    request,
                    answer.language,
                    &answer.lines(),
                    Some(&answer.share_url),
                ),
                Err(_) => self.error_page(request, StatusCode::NOT_FOUND, text.not_found),
            },
            Ok(None) => self.error_page(request, StatusCode::NOT_FOUND, text.not_found),
            Err(error) => {
                tracing::error!(error = %error, "thank-you page failed");
                self.error_page(request, StatusCode::SERVICE_UNAVAILABLE, text.unavailable)
            }
        }
    }

    fn thanks_response(
        &self,
        request: &Request,
        language: Language,
        lines: &[String],
        share_url: Option<&str>,
    ) -> Response<Body> {
        let style = Style::from_query(
            query_param(request, "font").as_deref(),
            query_param(request, "color").as_deref(),
        );
        let script_src = format!("{}/form.js", base_path(request));
        let html = page::thanks_page(&page::ThanksPage {
            language,
            program: &self.settings.program.name,
            lines: lines.to_vec(),
            share_url,
            embed: query_param(request, "embed").as_deref() == Some("1"),
            style: &style,
            script_src: &script_src,
        });
        self.html(request, StatusCode::OK, html)
    }
}

fn route(request: &Request) -> Option<Route> {
    // The path may carry a stage or custom-domain prefix before the route's own path.
    let path = request.uri().path().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [.., "register"] => Some(Route::Register),
        [.., "embed.js"] => Some(Route::EmbedJs),
        [.., "form.js"] => Some(Route::FormJs),
        [.., "join"] => Some(Route::Page {
            target: Target::Campaign {
                wants_to_host: false,
            },
            thanks: false,
        }),
        [.., "join", "thanks"] => Some(Route::Page {
            target: Target::Campaign {
                wants_to_host: false,
            },
            thanks: true,
        }),
        [.., "g", id] => GatheringId::parse(id).ok().map(|id| Route::Page {
            target: Target::Gathering(id),
            thanks: false,
        }),
        [.., "g", id, "thanks"] => GatheringId::parse(id).ok().map(|id| Route::Page {
            target: Target::Gathering(id),
            thanks: true,
        }),
        [.., "t", id] => TrainingId::parse(id).ok().map(|id| Route::Page {
            target: Target::Training(id.as_str().to_owned()),
            thanks: false,
        }),
        [.., "t", id, "thanks"] => TrainingId::parse(id).ok().map(|id| Route::Page {
            target: Target::Training(id.as_str().to_owned()),
            thanks: true,
        }),
        _ => None,
    }
}

/// Everything before the route's own path (a stage such as `/prod`), so links stay under it.
fn base_path(request: &Request) -> String {
    let path = request.uri().path();
    for marker in ["/register", "/join", "/g/", "/t/"] {
        if let Some(i) = path.rfind(marker) {
            return path[..i].to_owned();
        }
    }
    String::new()
}

fn thanks_location(raw: &RawForm, answer: &Answer) -> String {
    let gathering = raw
        .gathering
        .as_deref()
        .map(str::trim)
        .filter(|g| GatheringId::parse(g).is_ok());
    let training = raw
        .training
        .as_deref()
        .map(str::trim)
        .filter(|t| TrainingId::parse(t).is_ok());
    let page = match (gathering, training) {
        (Some(id), _) => format!("g/{id}/thanks"),
        (None, Some(id)) => format!("t/{id}/thanks"),
        (None, None) => "join/thanks".to_owned(),
    };
    let submission = raw
        .submission_id
        .as_deref()
        .map(str::trim)
        .unwrap_or_default();
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("s", submission)
        .append_pair("lang", answer.language.code())
        .finish();
    // Relative to /register, so a stage prefix is kept.
    format!("{page}?{query}")
}

/// Whether `origin` matches an allowlist entry: exact (`https://chapter.example`), any port
/// (`http://127.0.0.1:*`), any subdomain (`https://*.example.org`), or everything (`*`).
pub fn origin_matches(pattern: &str, origin: &str) -> bool {
    let pattern = pattern.trim().trim_end_matches('/');
    if pattern == "*" {
        return true;
    }
    if pattern.eq_ignore_ascii_case(origin) {
        return true;
    }
    if let Some(prefix) = pattern.strip_suffix(":*") {
        return origin
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
    }
    if let Some((scheme, host)) = pattern.split_once("://*.") {
        return origin
            .strip_prefix(scheme)
            .and_then(|rest| rest.strip_prefix("://"))
            .is_some_and(|rest| {
                rest.ends_with(&format!(".{host}"))
                    && !rest[..rest.len() - host.len() - 1].contains(['/', ':'])
            });
    }
    false
}

fn json_response(
    status: StatusCode,
    body: serde_json::Value,
    cors: Option<String>,
) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    insert(headers, "content-type", "application/json; charset=utf-8");
    insert(headers, "cache-control", "no-store");
    insert(headers, "x-content-type-options", "nosniff");
    if let Some(origin) = cors {
        insert(headers, "access-control-allow-origin", &origin);
        insert(headers, "vary", "Origin");
    }
    response
}

/// A script other sites' pages load: [`crate::web::script`], allowed across origins (it reads
/// nothing from them).
fn script(source: &'static str) -> Response<Body> {
    let mut response = crate::web::script(source);
    insert(
        response.headers_mut(),
        "cross-origin-resource-policy",
        "cross-origin",
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_exactly_by_port_wildcard_or_subdomain_wildcard() {
        assert!(origin_matches(
            "https://chapter.example",
            "https://chapter.example"
        ));
        assert!(origin_matches(
            "https://chapter.example/",
            "https://chapter.example"
        ));
        assert!(!origin_matches(
            "https://chapter.example",
            "https://evil.example"
        ));
        assert!(origin_matches(
            "http://127.0.0.1:*",
            "http://127.0.0.1:43123"
        ));
        assert!(!origin_matches(
            "http://127.0.0.1:*",
            "http://127.0.0.1.evil.example:80"
        ));
        assert!(origin_matches(
            "https://*.example.org",
            "https://a.example.org"
        ));
        assert!(!origin_matches(
            "https://*.example.org",
            "https://example.org.evil.example"
        ));
        assert!(!origin_matches(
            "https://*.example.org",
            "http://a.example.org"
        ));
        assert!(origin_matches("*", "https://anything.example"));
    }
}
