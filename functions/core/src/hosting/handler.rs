//! The HTTP side of the host dashboard (`/host…`). Errors map to statuses in one place
//! ([`HostError::status`]); every page carries the host CSP (no scripts, never framed).
//!
//! | route | what |
//! |---|---|
//! | `GET /host` | the dashboard, or the sign-in page |
//! | `POST /host/sign-in` | emails a sign-in link (rate-limited), then `303` to `/host/sign-in/sent` |
//! | `GET /host/sign-in?token=…` | one button that uses the link (mail scanners open links, they do not press buttons) |
//! | `POST /host/sign-in/confirm` | uses the link: session cookie, `303` to `/host` |
//! | `POST /host/sign-out` | ends the session |
//! | `GET /host/gatherings/new`, `POST /host/gatherings` | create a gathering |
//! | `GET /host/gatherings/{id}` | share link, embed snippet, text code, who is coming |
//! | `GET /host/gatherings/{id}/edit`, `POST /host/gatherings/{id}` | edit it |
//! | `GET /host/gatherings/{id}/attendees.csv` | the attendee list (recorded in the audit log) |
//!
//! Every POST of a signed-in host carries the session's CSRF token, and a POST whose `Origin` is
//! another site is refused before anything else.

use http::header::{COOKIE, HeaderValue, ORIGIN};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use super::form::GatheringForm;
use super::page::{self, FormPage, Frame, GatheringPage, HOST_CSP};
use super::session::{self, SessionKey};
use super::text::host_text;
use super::{HostError, Hosting, Keys, Settings, SignedIn, admin};
use crate::admin::AuditLog;
use crate::config::HostConfig;
use crate::domain::{GatheringId, Language};
use crate::email::TokenKey;
use crate::links::language as page_language;
use crate::outbound::{OutboxStore, SendQueue};
use crate::privacy::{ContactHasher, Sealer};
use crate::secrets::SecretStore;
use crate::stats::CampaignStats;
use crate::store::{
    CampaignRulesStore, GatheringStore, HostStore, InviteStore, KeywordStore, RegistrationStore,
    RsvpStore, StoredTemplate, TemplateStore, TrainingStore,
};
use crate::web::{header, html_page, insert, is_self_origin, query_param, see_other, source_ip};

mod admin_routes;

use admin_routes::AdminRoute;

/// Bodies larger than this are refused with 413 (a full gathering form is under 10 KB).
pub const BODY_LIMIT: usize = 32 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Home,
    SignIn,
    SignInSent,
    SignInConfirm,
    SignOut,
    NewGathering,
    Gatherings,
    Gathering(GatheringId),
    EditGathering(GatheringId),
    AttendeesCsv(GatheringId),
    Invite(GatheringId),
    Script,
    /// A personal invitation link, `/i/<code>`.
    Personal(String),
    /// The organizer tools (`/admin…`).
    Admin(AdminRoute),
}

/// The `host` function: its dependencies, built once per cold start.
pub struct HostApp<H, G, R, O, Q, A, I, T, S, K> {
    config: HostConfig,
    settings: Settings,
    hosts: H,
    gatherings: G,
    limits: R,
    outbox: O,
    queue: Q,
    audit: A,
    invites: I,
    trainings: T,
    stats: S,
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
    #[error("the session key is unusable: {0}")]
    Session(#[from] super::session::SessionKeyError),
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
    /// Builds the handler. Does no I/O: keys are fetched on the first request that needs them.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: HostConfig,
        hosts: H,
        gatherings: G,
        limits: R,
        outbox: O,
        queue: Q,
        audit: A,
        invites: I,
        trainings: T,
        stats: S,
        sealer: Sealer,
        secrets: K,
    ) -> Self {
        let settings = config.settings();
        Self {
            config,
            settings,
            hosts,
            gatherings,
            limits,
            outbox,
            queue,
            audit,
            invites,
            trainings,
            stats,
            sealer,
            secrets,
            keys: OnceCell::new(),
        }
    }

    pub fn outbox(&self) -> &O {
        &self.outbox
    }

    pub fn gatherings(&self) -> &G {
        &self.gatherings
    }

    pub fn audit(&self) -> &A {
        &self.audit
    }

    pub fn trainings(&self) -> &T {
        &self.trainings
    }

    pub fn stats(&self) -> &S {
        &self.stats
    }

    pub fn invites(&self) -> &I {
        &self.invites
    }

    async fn keys(&self) -> Result<&Keys, KeyError> {
        self.keys
            .get_or_try_init(|| async {
                let hash_key = self
                    .secrets
                    .fetch(&self.config.contact_hash_key_parameter)
                    .await?;
                let link_key = self.secrets.fetch(&self.config.link_key_parameter).await?;
                let session_key = self
                    .secrets
                    .fetch(&self.config.session_key_parameter)
                    .await?;
                let hasher = ContactHasher::from_base64(&hash_key)?;
                let organizers = match &self.config.organizer_emails_parameter {
                    None => Vec::new(),
                    // Without the list (not created yet), hosts still work and nobody is an organizer.
                    Some(name) => match self.secrets.fetch(name).await {
                        Ok(list) => super::admin::organizer_hashes(&hasher, &list),
                        Err(error) => {
                            tracing::warn!(error = %error, "no organizer list: /admin is closed");
                            Vec::new()
                        }
                    },
                };
                Ok::<_, KeyError>(Keys {
                    hasher,
                    link_key: TokenKey::from_base64(&link_key)?,
                    session: SessionKey::from_base64(&session_key)?,
                    organizers,
                })
            })
            .await
    }

    fn hosting<'a>(
        &'a self,
        keys: &'a Keys,
        templates: &'a [StoredTemplate],
        settings: &'a Settings,
    ) -> Hosting<'a, H, G, R, O, Q, A, I> {
        Hosting {
            settings,
            hosts: &self.hosts,
            gatherings: &self.gatherings,
            limits: &self.limits,
            outbox: &self.outbox,
            queue: &self.queue,
            audit: &self.audit,
            invites: &self.invites,
            sealer: &self.sealer,
            keys,
            templates,
        }
    }

    /// Handles one request; never fails at the Lambda level.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        self.handle_at(&request, OffsetDateTime::now_utc()).await
    }

    /// Handles one request as of `now`.
    pub async fn handle_at(&self, request: &Request, now: OffsetDateTime) -> Response<Body> {
        let language = page_language(request);
        let Some(route) = route(request) else {
            return self.message(
                request,
                language,
                None,
                StatusCode::NOT_FOUND,
                host_text(language).not_found,
            );
        };
        let method = request.method().clone();
        if method == Method::POST {
            if request.body().as_ref().len() > BODY_LIMIT {
                tracing::warn!(status = 413, "host form too large");
                return self.message(
                    request,
                    language,
                    None,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    host_text(language).too_large,
                );
            }
            if let Some(origin) = header(request, ORIGIN)
                && !is_self_origin(request, &origin, &self.settings.public_base_url)
            {
                tracing::warn!(status = 403, "host form from another site");
                return self.message(
                    request,
                    language,
                    None,
                    StatusCode::FORBIDDEN,
                    host_text(language).forbidden,
                );
            }
        }
        let keys = match self.keys().await {
            Ok(keys) => keys,
            Err(error) => {
                tracing::error!(error = %error, "host keys unavailable");
                return self.message(
                    request,
                    language,
                    None,
                    StatusCode::SERVICE_UNAVAILABLE,
                    host_text(language).unavailable,
                );
            }
        };
        // The invitation's wording, as organizers reworded it: read only where invitations are
        // written (the POST that previews and sends them; the form itself shows no text).
        let templates = match (&route, &method) {
            (Route::Invite(_), &Method::POST) => match self.gatherings.templates().await {
                Ok(templates) => templates,
                Err(error) => return self.failure(request, language, None, error.into()),
            },
            _ => Vec::new(),
        };
        // The rules organizers set over the deployed ones (approval, the daily quota): read only
        // where they decide something (creating a gathering, sending invitations).
        let settings = match (&route, &method) {
            (Route::Gatherings | Route::Invite(_), &Method::POST) => {
                match self.gatherings.campaign_rules().await {
                    Ok(Some(rules)) => std::borrow::Cow::Owned(self.settings.with_rules(&rules)),
                    Ok(None) => std::borrow::Cow::Borrowed(&self.settings),
                    Err(error) => return self.failure(request, language, None, error.into()),
                }
            }
            _ => std::borrow::Cow::Borrowed(&self.settings),
        };
        let app = self.hosting(keys, &templates, &settings);
        let signed_in = match self.signed_in(&app, request, now).await {
            Ok(s) => s,
            Err(error) => return self.failure(request, language, None, error),
        };
        // A signed-in host's pages are in the language they signed in with, unless they switch.
        let language = match (&signed_in, query_param(request, "lang")) {
            (Some(s), None) => s.session.language,
            _ => language,
        };
        let result = match (route, method, signed_in) {
            (Route::Home, Method::GET | Method::HEAD, None) => Ok(self.sign_in_page(
                request,
                language,
                StatusCode::OK,
                "",
                (query_param(request, "signed_out").is_some())
                    .then_some(host_text(language).signed_out),
                None,
            )),
            (Route::Script, Method::GET | Method::HEAD, _) => Ok(crate::web::script(page::HOST_JS)),
            (Route::Personal(code), Method::GET | Method::HEAD, _) => {
                self.personal_link(&app, &code, language, now).await
            }
            (Route::SignIn, Method::POST, _) => self.request_link(&app, request, now).await,
            (Route::SignIn, Method::GET | Method::HEAD, _) => {
                Ok(self.confirm_page(request, language))
            }
            (Route::SignInSent, Method::GET | Method::HEAD, _) => {
                let t = host_text(language);
                Ok(self.message(request, language, None, StatusCode::OK, t.link_sent_body))
            }
            (Route::SignInConfirm, Method::POST, _) => self.use_link(&app, request, now).await,
            (Route::SignOut, Method::POST, signed_in) => {
                self.sign_out(&app, request, signed_in).await
            }
            (_, Method::GET | Method::HEAD, None) => {
                Ok(see_other(&format!("/host?lang={}", language.code())))
            }
            (_, _, None) => Err(HostError::NotSignedIn),
            (Route::Home, Method::GET | Method::HEAD, Some(s)) => {
                self.dashboard(&app, request, language, &s, now).await
            }
            (Route::NewGathering, Method::GET | Method::HEAD, Some(s)) => {
                self.new_gathering(&app, request, language, &s).await
            }
            (Route::Gatherings, Method::POST, Some(s)) => {
                self.create(&app, request, language, &s, now).await
            }
            (Route::Gathering(id), Method::GET | Method::HEAD, Some(s)) => {
                self.gathering(&app, request, language, &s, &id, now).await
            }
            (Route::Gathering(id), Method::POST, Some(s)) => {
                self.update(&app, request, language, &s, &id, now).await
            }
            (Route::EditGathering(id), Method::GET | Method::HEAD, Some(s)) => {
                self.edit_gathering(&app, request, language, &s, &id).await
            }
            (Route::Invite(id), Method::GET | Method::HEAD, Some(s)) => app
                .own(s.host(), &id)
                .await
                .map(|g| self.invite_form(request, language, &s, &g, "", None, StatusCode::OK)),
            (Route::Invite(id), Method::POST, Some(s)) => {
                self.invite(&app, request, language, &s, &id, now).await
            }
            (Route::Admin(_), _, Some(s)) if !keys.organizers.contains(s.host()) => {
                Err(HostError::NotOrganizer)
            }
            (Route::Admin(route), method, Some(s)) => {
                self.admin(&app, request, language, &s, route, method, now)
                    .await
            }
            (Route::AttendeesCsv(id), Method::GET | Method::HEAD, Some(s)) => app
                .export_csv(s.host(), &id, language, now)
                .await
                .map(|csv| csv_response(request, &id, csv)),
            _ => return self.not_allowed(request, language),
        };
        match result {
            Ok(response) => response,
            Err(error) => self.failure(request, language, None, error),
        }
    }

    async fn signed_in(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        now: OffsetDateTime,
    ) -> Result<Option<SignedIn>, HostError> {
        let name = session::cookie_name(self.settings.secure_cookies);
        let Some(value) = request
            .headers()
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|h| session::cookie(h, name))
        else {
            return Ok(None);
        };
        app.session(value, now).await
    }

    fn frame<'a>(
        &'a self,
        language: Language,
        title: &'a str,
        csrf: Option<&'a str>,
        other_href: &'a str,
    ) -> Frame<'a> {
        Frame {
            language,
            program: &self.settings.program.name,
            title,
            csrf,
            other_language_href: other_href,
            refresh: false,
        }
    }

    /// `405`: a route that exists, with a method it does not take.
    fn not_allowed(&self, request: &Request, language: Language) -> Response<Body> {
        let mut response = self.message(
            request,
            language,
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            host_text(language).not_found,
        );
        response.headers_mut().insert(
            http::header::ALLOW,
            HeaderValue::from_static("GET, HEAD, POST"),
        );
        response
    }

    fn html(&self, request: &Request, status: StatusCode, html: String) -> Response<Body> {
        html_page(request, status, HOST_CSP, html)
    }

    fn message(
        &self,
        request: &Request,
        language: Language,
        csrf: Option<&str>,
        status: StatusCode,
        message: &str,
    ) -> Response<Body> {
        let t = host_text(language);
        let heading = if status.is_success() {
            t.link_sent_title
        } else {
            t.error_title
        };
        let href = other_language_href(request, language);
        let html = page::message_page(
            &self.frame(language, heading, csrf, &href),
            heading,
            message,
        );
        self.html(request, status, html)
    }

    fn failure(
        &self,
        request: &Request,
        language: Language,
        csrf: Option<&str>,
        error: HostError,
    ) -> Response<Body> {
        let status = error.status();
        if status.is_server_error() {
            tracing::error!(error = %error, status = status.as_u16(), "host request failed");
        } else {
            tracing::warn!(error = %error, status = status.as_u16(), "host request refused");
        }
        let t = host_text(language);
        match error {
            HostError::NotSignedIn => self.sign_in_page(request, language, status, "", None, None),
            HostError::LinkExpired => {
                self.sign_in_page(request, language, status, "", None, Some(t.link_expired))
            }
            HostError::InvalidEmail => {
                let email = form_value(request, "email").unwrap_or_default();
                self.sign_in_page(request, language, status, &email, None, Some(t.err_email))
            }
            HostError::TooMany => {
                self.sign_in_page(request, language, status, "", None, Some(t.too_many))
            }
            HostError::Forbidden => self.message(request, language, csrf, status, t.forbidden),
            HostError::NotOrganizer => {
                let message = admin::admin_text(language).not_organizer;
                self.message(request, language, csrf, status, message)
            }
            HostError::AlreadyPublished => {
                let message = admin::admin_text(language).already_published;
                self.message(request, language, csrf, status, message)
            }
            HostError::NotFound => self.message(request, language, csrf, status, t.not_found),
            _ => self.message(request, language, csrf, status, t.unavailable),
        }
    }

    fn sign_in_page(
        &self,
        request: &Request,
        language: Language,
        status: StatusCode,
        email: &str,
        notice: Option<&str>,
        error: Option<&str>,
    ) -> Response<Body> {
        let t = host_text(language);
        let href = other_language_href(request, language);
        let html = page::sign_in_page(
            &self.frame(language, t.sign_in_title, None, &href),
            email,
            notice,
            error,
        );
        self.html(request, status, html)
    }

    fn confirm_page(&self, request: &Request, language: Language) -> Response<Body> {
        let t = host_text(language);
        let Some(token) =
            query_param(request, "token").and_then(|t| session::SecretToken::parse(&t))
        else {
            return self.sign_in_page(
                request,
                language,
                StatusCode::GONE,
                "",
                None,
                Some(t.link_expired),
            );
        };
        let href = other_language_href(request, language);
        let html = page::confirm_page(
            &self.frame(language, t.confirm_title, None, &href),
            token.as_str(),
        );
        let mut response = self.html(request, StatusCode::OK, html);
        // The token is in this page's URL: never send it on as a referrer.
        insert(response.headers_mut(), "referrer-policy", "no-referrer");
        response
    }

    async fn request_link(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        now: OffsetDateTime,
    ) -> Result<Response<Body>, HostError> {
        let language = form_value(request, "lang")
            .and_then(|l| Language::parse(&l))
            .unwrap_or_else(|| page_language(request));
        let email = form_value(request, "email").unwrap_or_default();
        app.request_link(&email, language, &source_ip(request), now)
            .await?;
        Ok(see_other(&format!(
            "/host/sign-in/sent?lang={}",
            language.code()
        )))
    }

    async fn use_link(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        now: OffsetDateTime,
    ) -> Result<Response<Body>, HostError> {
        let token = form_value(request, "token").unwrap_or_default();
        let (token, session) = app.sign_in(&token, now).await?;
        let mut response = see_other(&format!("/host?lang={}", session.language.code()));
        let cookie = session::set_cookie(
            &app.keys.session.cookie_value(&token),
            self.settings.secure_cookies,
            super::SESSION_TTL,
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response
                .headers_mut()
                .append(http::header::SET_COOKIE, value);
        }
        Ok(response)
    }

    async fn sign_out(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        signed_in: Option<SignedIn>,
    ) -> Result<Response<Body>, HostError> {
        if let Some(s) = &signed_in {
            app.check_csrf(s, &form_value(request, "csrf").unwrap_or_default())?;
            app.sign_out(s).await?;
        }
        let mut response = see_other("/host?signed_out=1");
        if let Ok(value) =
            HeaderValue::from_str(&session::clear_cookie(self.settings.secure_cookies))
        {
            response
                .headers_mut()
                .append(http::header::SET_COOKIE, value);
        }
        Ok(response)
    }

    async fn dashboard(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        language: Language,
        s: &SignedIn,
        now: OffsetDateTime,
    ) -> Result<Response<Body>, HostError> {
        let gatherings = app.dashboard(s.host()).await?;
        let t = host_text(language);
        let href = other_language_href(request, language);
        let html = page::dashboard_page(
            &self.frame(language, t.dashboard_title, Some(&s.csrf), &href),
            &gatherings,
            now,
            app.keys.organizers.contains(s.host()),
        );
        Ok(self.html(request, StatusCode::OK, html))
    }

    async fn new_gathering(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        language: Language,
        s: &SignedIn,
    ) -> Result<Response<Body>, HostError> {
        let ask = app.needs_first_name(s.host()).await?;
        let values = GatheringForm {
            language: language.code().to_owned(),
            ..GatheringForm::default()
        };
        Ok(self.form_page(
            request,
            language,
            s,
            &values,
            &[],
            ask,
            None,
            StatusCode::OK,
        ))
    }

    async fn edit_gathering(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        language: Language,
        s: &SignedIn,
        id: &GatheringId,
    ) -> Result<Response<Body>, HostError> {
        let gathering = app.own(s.host(), id).await?;
        let address = app.address_for_host(&gathering).await?;
        let values = GatheringForm::of(&gathering, address);
        Ok(self.form_page(
            request,
            language,
            s,
            &values,
            &[],
            false,
            Some(id.as_str()),
            StatusCode::OK,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn form_page(
        &self,
        request: &Request,
        language: Language,
        s: &SignedIn,
        values: &GatheringForm,
        errors: &[(super::form::FormField, &'static str)],
        ask_first_name: bool,
        editing: Option<&str>,
        status: StatusCode,
    ) -> Response<Body> {
        let t = host_text(language);
        let title = if editing.is_some() {
            t.edit_title
        } else {
            t.create_title
        };
        let href = other_language_href(request, language);
        let html = page::gathering_form_page(
            &self.frame(language, title, Some(&s.csrf), &href),
            &FormPage {
                values,
                errors,
                csrf: &s.csrf,
                ask_first_name,
                editing,
            },
        );
        self.html(request, status, html)
    }

    async fn create(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        language: Language,
        s: &SignedIn,
        now: OffsetDateTime,
    ) -> Result<Response<Body>, HostError> {
        let form = GatheringForm::from_urlencoded(request.body().as_ref());
        app.check_csrf(s, &form.csrf)?;
        match app.create(s.host(), &form, language, now).await {
            Ok(id) => Ok(see_other(&format!(
                "/host/gatherings/{}?created=1",
                id.as_str()
            ))),
            Err(HostError::Invalid(problems)) => {
                let ask = app.needs_first_name(s.host()).await?;
                Ok(self.form_page(
                    request,
                    language,
                    s,
                    &form,
                    &problems,
                    ask,
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                ))
            }
            Err(error) => Err(error),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn update(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        language: Language,
        s: &SignedIn,
        id: &GatheringId,
        now: OffsetDateTime,
    ) -> Result<Response<Body>, HostError> {
        let form = GatheringForm::from_urlencoded(request.body().as_ref());
        app.check_csrf(s, &form.csrf)?;
        match app.update(s.host(), id, &form, language, now).await {
            Ok(()) => Ok(see_other(&format!(
                "/host/gatherings/{}?saved=1",
                id.as_str()
            ))),
            Err(HostError::Invalid(problems)) => Ok(self.form_page(
                request,
                language,
                s,
                &form,
                &problems,
                false,
                Some(id.as_str()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )),
            Err(error) => Err(error),
        }
    }

    async fn gathering(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        language: Language,
        s: &SignedIn,
        id: &GatheringId,
        now: OffsetDateTime,
    ) -> Result<Response<Body>, HostError> {
        let (gathering, attendees) = app.attendees(s.host(), id, now).await?;
        let address = app.address_for_host(&gathering).await?;
        let history = app.invite_history(id, now).await?;
        let joined: Vec<_> = attendees.iter().filter_map(|a| a.invited).collect();
        let funnel = super::invites::funnel(&history, &joined);
        let lines = page::history_lines(&history, &gathering.timezone, language);
        let t = host_text(language);
        let notice = if query_param(request, "created").is_some() {
            Some(t.created)
        } else if query_param(request, "saved").is_some() {
            Some(t.saved)
        } else if query_param(request, "sent").is_some() {
            Some(super::text::invite_text(language).sent_notice)
        } else {
            None
        };
        let href = other_language_href(request, language);
        let mut frame = self.frame(language, gathering.title.as_str(), Some(&s.csrf), &href);
        // Reload while texts and emails are going out (not while they only wait for the morning).
        frame.refresh = lines.iter().any(|l| l.sending);
        let html = page::gathering_page(
            &frame,
            &GatheringPage {
                gathering: &gathering,
                address: &address,
                attendees: &attendees,
                public_base_url: &self.settings.public_base_url,
                text_number: &self.settings.text_number,
                notice,
                now,
                history: &lines,
                funnel,
            },
        );
        Ok(self.html(request, StatusCode::OK, html))
    }
    #[allow(clippy::too_many_arguments)]
    fn invite_form(
        &self,
        request: &Request,
        language: Language,
        s: &SignedIn,
        gathering: &crate::domain::Gathering,
        contacts: &str,
        error: Option<&str>,
        status: StatusCode,
    ) -> Response<Body> {
        let i = super::text::invite_text(language);
        let href = other_language_href(request, language);
        let html = page::invite_form_page(
            &self.frame(language, i.invite_heading, Some(&s.csrf), &href),
            gathering,
            &s.csrf,
            contacts,
            error,
        );
        self.html(request, status, html)
    }

    /// `POST /host/gatherings/{id}/invite`: `action` `preview` (the default), `send`, or `edit`
    /// (back to the list).
    async fn invite(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        request: &Request,
        language: Language,
        s: &SignedIn,
        id: &GatheringId,
        now: OffsetDateTime,
    ) -> Result<Response<Body>, HostError> {
        app.check_csrf(s, &form_value(request, "csrf").unwrap_or_default())?;
        let contacts = form_value(request, "contacts").unwrap_or_default();
        let action = form_value(request, "action").unwrap_or_default();
        let i = super::text::invite_text(language);
        if action == "edit" {
            let gathering = app.own(s.host(), id).await?;
            return Ok(self.invite_form(
                request,
                language,
                s,
                &gathering,
                &contacts,
                None,
                StatusCode::OK,
            ));
        }
        if action == "send" {
            let attested = form_value(request, "attest").is_some();
            match app
                .send_invites(s.host(), id, &contacts, attested, now)
                .await
            {
                Ok(batch) => {
                    return Ok(see_other(&format!(
                        "/host/gatherings/{}?sent={}",
                        id.as_str(),
                        batch.as_str()
                    )));
                }
                Err(
                    error @ (HostError::NotAttested
                    | HostError::NobodyToInvite
                    | HostError::Quota { .. }),
                ) => {
                    let message = match &error {
                        HostError::NotAttested => i.err_attest.to_owned(),
                        HostError::NobodyToInvite => i.err_nobody.to_owned(),
                        HostError::Quota { limit } => crate::messages::render(
                            i.quota_reached,
                            &[
                                ("left", &self.quota_left(app, s, now).await.to_string()),
                                ("limit", &limit.to_string()),
                            ],
                        ),
                        _ => String::new(),
                    };
                    tracing::warn!(error = %error, "invitations refused");
                    let (gathering, preview) =
                        app.preview_invites(s.host(), id, &contacts, now).await?;
                    return Ok(self.preview(
                        request,
                        language,
                        s,
                        &gathering,
                        &preview,
                        &contacts,
                        Some(&message),
                        error.status(),
                    ));
                }
                Err(error) => return Err(error),
            }
        }
        let (gathering, preview) = app.preview_invites(s.host(), id, &contacts, now).await?;
        Ok(self.preview(
            request,
            language,
            s,
            &gathering,
            &preview,
            &contacts,
            None,
            StatusCode::OK,
        ))
    }

    /// How many invitations the host may still send today (for the quota message).
    async fn quota_left(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        s: &SignedIn,
        now: OffsetDateTime,
    ) -> u32 {
        app.limits
            .remaining(
                &format!("invites#{}", s.host().as_str()),
                app.settings.invite_quota,
                time::Duration::days(1),
                now,
            )
            .await
            .unwrap_or(0)
    }

    #[allow(clippy::too_many_arguments)]
    fn preview(
        &self,
        request: &Request,
        language: Language,
        s: &SignedIn,
        gathering: &crate::domain::Gathering,
        preview: &super::invites::Preview,
        contacts: &str,
        error: Option<&str>,
        status: StatusCode,
    ) -> Response<Body> {
        let i = super::text::invite_text(language);
        let href = other_language_href(request, language);
        let html = page::preview_page(
            &self.frame(language, i.preview_heading, Some(&s.csrf), &href),
            gathering,
            preview,
            &s.csrf,
            contacts,
            error,
        );
        self.html(request, status, html)
    }

    /// `GET /i/<code>`: the gathering's page, with the code as its referral (unknown codes: 404).
    async fn personal_link(
        &self,
        app: &Hosting<'_, H, G, R, O, Q, A, I>,
        code: &str,
        language: Language,
        now: OffsetDateTime,
    ) -> Result<Response<Body>, HostError> {
        match app.resolve_invite(code, now).await? {
            Some(gathering) => Ok(see_other(&format!(
                "/g/{}?ref={code}&lang={}",
                gathering.as_str(),
                language.code()
            ))),
            None => Err(HostError::NotFound),
        }
    }
}

fn route(request: &Request) -> Option<Route> {
    let path = request.uri().path().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if let [.., "i", code] = segments.as_slice() {
        return Some(Route::Personal((*code).to_owned()));
    }
    if !segments.contains(&"host")
        && let Some(at) = segments.iter().rposition(|s| *s == "admin")
    {
        return admin_routes::route(&segments[at + 1..]).map(Route::Admin);
    }
    let at = segments.iter().rposition(|s| *s == "host")?;
    let id = |s: &str| GatheringId::parse(s).ok();
    Some(match &segments[at + 1..] {
        [] => Route::Home,
        ["sign-in"] => Route::SignIn,
        ["sign-in", "sent"] => Route::SignInSent,
        ["sign-in", "confirm"] => Route::SignInConfirm,
        ["sign-out"] => Route::SignOut,
        ["gatherings"] => Route::Gatherings,
        ["gatherings", "new"] => Route::NewGathering,
        ["gatherings", g] => Route::Gathering(id(g)?),
        ["gatherings", g, "edit"] => Route::EditGathering(id(g)?),
        ["gatherings", g, "attendees.csv"] => Route::AttendeesCsv(id(g)?),
        ["gatherings", g, "invite"] => Route::Invite(id(g)?),
        ["host.js"] => Route::Script,
        _ => return None,
    })
}

/// A field of a form-encoded body.
fn form_value(request: &Request, name: &str) -> Option<String> {
    form_urlencoded::parse(request.body().as_ref())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The same page in the other language.
fn other_language_href(request: &Request, language: Language) -> String {
    crate::web::language_href(
        request,
        match language {
            Language::En => Language::Es,
            Language::Es => Language::En,
        },
    )
}

fn csv_response(request: &Request, id: &GatheringId, csv: String) -> Response<Body> {
    let head = request.method() == Method::HEAD;
    let mut response = Response::new(if head {
        Body::Empty
    } else {
        Body::Binary(csv.into_bytes())
    });
    let headers = response.headers_mut();
    // Binary, so API Gateway carries it as base64, byte for byte: the byte-order mark stays, which Excel
    // needs to read UTF-8 (`rising_core::serve` hands bodies over as built, never re-decoded).
    insert(headers, "content-type", "text/csv; charset=utf-8");
    insert(
        headers,
        "content-disposition",
        &format!("attachment; filename=\"attendees-{}.csv\"", id.as_str()),
    );
    insert(headers, "cache-control", "no-store");
    insert(headers, "x-content-type-options", "nosniff");
    insert(headers, "content-security-policy", HOST_CSP);
    response
}
