//! The organizer tools' routes (`/admin…`), in the host function. Only hosts on the organizer list
//! get here (the caller answers 403 to anyone else); every POST carries the session's CSRF token.
//!
//! | route | what |
//! |---|---|
//! | `GET /admin` | the training catalog, with a form per recording not yet published |
//! | `POST /admin/trainings/{id}/recording` | review (without `confirm`), then publish (with `confirm=yes`) a recording |
//! | `GET /admin/trainings/new`, `POST /admin/trainings` | add a training |
//! | `GET /admin/trainings/{id}/edit`, `POST /admin/trainings/{id}` | edit it (never its recording) |

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

use super::super::admin::training_form::{self, TrainingForm, TrainingProblem};
use super::super::{HostError, Hosting, SignedIn, admin};
use super::{HostApp, form_value, other_language_href};
use crate::admin::{AuditLog, Organizer, recordings};
use crate::domain::{Language, TrainingId, TrainingUrl};
use crate::outbound::{OutboxStore, SendQueue};
use crate::secrets::SecretStore;
use crate::store::{
    GatheringStore, HostStore, InviteStore, PutTraining, RegistrationStore, RsvpStore,
    TrainingStore, UpdateTraining,
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
        _ => return None,
    })
}

impl<H, G, R, O, Q, A, I, T, K> HostApp<H, G, R, O, Q, A, I, T, K>
where
    H: HostStore,
    G: GatheringStore + RsvpStore,
    R: RegistrationStore,
    O: OutboxStore,
    Q: SendQueue,
    A: AuditLog,
    I: InviteStore,
    T: TrainingStore,
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
        let notice = [
            ("published", t.published_notice),
            ("created", t.training_created),
            ("saved", t.training_saved),
        ]
        .into_iter()
        .find(|(param, _)| query_param(request, param).is_some())
        .map(|(_, notice)| notice);
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
        let t = admin::admin_text(language);
        let built = training_form::validate(&form, Some(now), t).and_then(|draft| {
            draft
                .build(TrainingId::random())
                .map_err(|_| vec![(training_form::TrainingField::Duration, t.err_duration)])
        });
        let training = match built {
            Ok(training) => training,
            Err(problems) => {
                return Ok(self.training_form(
                    request,
                    language,
                    s,
                    &form,
                    &problems,
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                ));
            }
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
        let t = admin::admin_text(language);
        let built = training_form::validate(&form, None, t).and_then(|draft| {
            draft
                .build(id.clone())
                .map_err(|_| vec![(training_form::TrainingField::Duration, t.err_duration)])
        });
        let training = match built {
            Ok(training) => training,
            Err(problems) => {
                return Ok(self.training_form(
                    request,
                    language,
                    s,
                    &form,
                    &problems,
                    Some(id),
                    StatusCode::UNPROCESSABLE_ENTITY,
                ));
            }
        };
        match self.trainings.update_training(&training, now).await? {
            UpdateTraining::Updated => {
                tracing::info!(training = %id, "training saved from the organizer page");
                Ok(see_other(&format!("/admin?saved={}", id.as_str())))
            }
            UpdateTraining::NoSuchTraining => Err(HostError::NotFound),
        }
    }
}
