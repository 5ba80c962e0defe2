//! A host invites the people they know: paste → preview → send → progress.
//!
//! - **Preview** parses the paste ([`super::contacts`]), merges duplicates, and asks the send gates
//!   for each person and channel *now* ([`gates::invite_skip_reason`], one `BatchGetItem` through
//!   [`OutboxStore::load`]): opted out, undeliverable, or already invited by anyone within the invite
//!   window ("will be skipped", never by whom). It shows the exact text with its segment count (after
//!   GSM-7 normalisation), the email, and the estimated cost. Nothing is stored.
//! - **Send** needs the host's attestation that they know these people, and room in their daily
//!   quota (the messages that will be sent count against it). It writes the batch record and one
//!   invite per person and channel (`BatchWriteItem`: personal link codes), stores the messages in
//!   the outbox as `pending` (kind `invite`, consent basis `host_attested`), and enqueues them
//!   (`SendMessageBatch`). The send worker does the rest, asking the gates again at send time.
//! - **Personal links**: `/i/<code>` (10 random base32 characters) leads to the gathering's page with
//!   `?ref=<code>`, so an RSVP through it records the code, and the dashboard attributes it to the
//!   host and the channel.

use time::OffsetDateTime;

use super::contacts::{self, Contact, Rejected};
use super::text::invite_text;
use super::{HostError, Hosting};
use crate::admin::AuditLog;
use crate::conversation::email_step::letter;
use crate::domain::{Gathering, GatheringId};
use crate::email::{Email, TokenPurpose, UnsubscribeToken, forget_url, unsubscribe_url};
use crate::messages::render;
use crate::outbound::{
    BatchId, Channel, ConsentBasis, Kind, Loaded, NewMessage, OutboundId, OutboxStore, Progress,
    QueueError, QueuedMessage, SendQueue, SkipReason, body_context, gates,
};
use crate::privacy::{ContactHash, field_context};
use crate::sms::segments::{self, Encoding, SegmentInfo};
use crate::store::{
    GatheringStore, HostStore, Invite, InviteBatch, InviteStore, RegistrationStore, RsvpStore,
};

/// Characters of an invite code (base32, lower case: the shape of a referral code).
const CODE_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// Length of an invite code (50 random bits).
pub const CODE_LEN: usize = 10;

/// A new random invite code.
pub fn invite_code() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.random_range(0..32)] as char)
        .collect()
}

/// Whether `text` has the shape of an invite code.
pub fn is_invite_code(text: &str) -> bool {
    text.len() == CODE_LEN && text.bytes().all(|b| CODE_ALPHABET.contains(&b))
}

/// What will happen to one person's invitation on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Send,
    Skip(SkipReason),
}

/// One person of the preview.
#[derive(Debug, Clone)]
pub struct PreviewRow {
    pub contact: Contact,
    pub sms: Option<Plan>,
    pub email: Option<Plan>,
}

/// What the host sees before sending.
#[derive(Debug, Clone)]
pub struct Preview {
    pub rows: Vec<PreviewRow>,
    pub rejected: Vec<Rejected>,
    pub merged: usize,
    pub sms_to_send: usize,
    pub emails_to_send: usize,
    pub skipped: usize,
    /// The text as it will be sent (with a sample link of the real length).
    pub sms_text: String,
    pub sms_info: SegmentInfo,
    /// Normalisation changed characters of the text to keep it GSM-7.
    pub sms_fixed: bool,
    pub email_subject: String,
    pub email_text: String,
    /// Estimated cost in US dollars.
    pub cost_usd: f64,
}

impl Preview {
    pub fn to_send(&self) -> usize {
        self.sms_to_send + self.emails_to_send
    }
}

/// A batch and where it stands.
#[derive(Debug, Clone)]
pub struct BatchProgress {
    pub batch: InviteBatch,
    pub progress: Progress,
}

impl BatchProgress {
    /// Every message has an outcome.
    pub fn is_done(&self) -> bool {
        self.progress.done() >= self.progress.queued
    }
}

/// Who invited an attendee, when it was this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribution {
    pub channel: Channel,
}

/// Invited and joined, per channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Funnel {
    pub sms_invited: u32,
    pub sms_joined: u32,
    pub email_invited: u32,
    pub email_joined: u32,
}

/// Texts for one gathering, rendered for a recipient.
struct Rendered {
    /// The text as sent: GSM-7 look-alikes in place of characters that would make it UCS-2.
    sms: String,
    /// Normalising changed the text as written.
    sms_fixed: bool,
    email_subject: String,
    email_text: String,
}

impl<H, G, R, O, Q, A, I> Hosting<'_, H, G, R, O, Q, A, I>
where
    H: HostStore,
    G: GatheringStore + RsvpStore,
    R: RegistrationStore,
    O: OutboxStore,
    Q: SendQueue,
    A: AuditLog,
    I: InviteStore,
{
    /// Parses the paste and asks the gates about everybody on it. Stores nothing.
    #[tracing::instrument(name = "hosting.preview_invites", skip_all)]
    pub async fn preview_invites(
        &self,
        host: &ContactHash,
        id: &GatheringId,
        pasted: &str,
        now: OffsetDateTime,
    ) -> Result<(Gathering, Preview), HostError> {
        let gathering = self.own(host, id).await?;
        let host_name = gathering
            .open_host_first_name(self.sealer)
            .await?
            .ok_or(HostError::NotFound)?;
        let parsed = contacts::parse(pasted, &self.settings.phone_countries);
        let hasher = &self.keys.hasher;
        let mut asks: Vec<(usize, Channel, QueuedMessage)> = Vec::new();
        for (i, c) in parsed.contacts.iter().enumerate() {
            if let Some(phone) = &c.phone {
                asks.push((i, Channel::Sms, probe(hasher.phone(phone), Channel::Sms)));
            }
            if let Some(email) = &c.email {
                asks.push((
                    i,
                    Channel::Email,
                    probe(hasher.email(email), Channel::Email),
                ));
            }
        }
        let queued: Vec<QueuedMessage> = asks.iter().map(|(_, _, q)| q.clone()).collect();
        let loaded = if queued.is_empty() {
            Vec::new()
        } else {
            self.outbox.load(&queued, now).await?
        };
        let mut rows: Vec<PreviewRow> = parsed
            .contacts
            .iter()
            .map(|c| PreviewRow {
                contact: c.clone(),
                sms: None,
                email: None,
            })
            .collect();
        let (mut sms, mut email, mut skipped) = (0, 0, 0);
        for ((i, channel, _), found) in asks
            .iter()
            .zip(loaded.iter().chain(std::iter::repeat(&Loaded::default())))
        {
            let plan = match gates::invite_skip_reason(*channel, found) {
                None => {
                    match channel {
                        Channel::Sms => sms += 1,
                        Channel::Email => email += 1,
                    }
                    Plan::Send
                }
                Some(reason) => {
                    skipped += 1;
                    Plan::Skip(reason)
                }
            };
            match channel {
                Channel::Sms => rows[*i].sms = Some(plan),
                Channel::Email => rows[*i].email = Some(plan),
            }
        }
        let sample = self.render(&gathering, &host_name, "Ana", &"x".repeat(CODE_LEN));
        let sms_info = segments::segments(&sample.sms);
        let cost_usd = sms as f64 * sms_info.segments as f64 * self.settings.sms_segment_price_usd
            + email as f64 * self.settings.email_price_usd;
        Ok((
            gathering,
            Preview {
                rows,
                rejected: parsed.rejected,
                merged: parsed.merged,
                sms_to_send: sms,
                emails_to_send: email,
                skipped,
                sms_fixed: sample.sms_fixed,
                sms_text: sample.sms,
                sms_info,
                email_subject: sample.email_subject,
                email_text: sample.email_text,
                cost_usd,
            },
        ))
    }

    /// Accepts a batch: checks the attestation and the quota, stores the invites and messages,
    /// enqueues them. Returns the batch id at once; the send worker does the rest.
    #[tracing::instrument(name = "hosting.send_invites", skip_all)]
    pub async fn send_invites(
        &self,
        host: &ContactHash,
        id: &GatheringId,
        pasted: &str,
        attested: bool,
        now: OffsetDateTime,
    ) -> Result<BatchId, HostError> {
        if !attested {
            return Err(HostError::NotAttested);
        }
        let (gathering, preview) = self.preview_invites(host, id, pasted, now).await?;
        if preview.to_send() == 0 {
            return Err(HostError::NobodyToInvite);
        }
        let count = u32::try_from(preview.to_send()).unwrap_or(u32::MAX);
        let quota = self.settings.invite_quota;
        if !self
            .limits
            .take(
                &format!("invites#{}", host.as_str()),
                count,
                quota,
                time::Duration::days(1),
                now,
            )
            .await?
        {
            tracing::warn!(outcome = "quota", invites = count, "invitations refused");
            return Err(HostError::Quota { limit: quota });
        }
        let host_name = gathering
            .open_host_first_name(self.sealer)
            .await?
            .ok_or(HostError::NotFound)?;
        let batch = BatchId::random();
        let expires_at = now + self.settings.invite_retention();
        let hasher = &self.keys.hasher;
        let mut invites = Vec::new();
        let mut messages = Vec::new();
        for row in &preview.rows {
            let name = row
                .contact
                .first_name
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default();
            for channel in [Channel::Sms, Channel::Email] {
                let plan = match channel {
                    Channel::Sms => row.sms,
                    Channel::Email => row.email,
                };
                if plan != Some(Plan::Send) {
                    continue;
                }
                let (contact, address) = match channel {
                    Channel::Sms => match &row.contact.phone {
                        Some(p) => (hasher.phone(p), p.as_e164().to_owned()),
                        None => continue,
                    },
                    Channel::Email => match &row.contact.email {
                        Some(e) => (hasher.email(e), e.as_str().to_owned()),
                        None => continue,
                    },
                };
                let code = invite_code();
                let message = OutboundId::random();
                let body = match channel {
                    Channel::Sms => self.render(&gathering, &host_name, &name, &code).sms,
                    Channel::Email => self.invite_email(
                        &gathering, &host_name, &name, &code, &contact, &address, now,
                    )?,
                };
                messages.push(NewMessage {
                    to: self
                        .sealer
                        .seal(&field_context(&contact, channel.address_field()), &address)
                        .await?,
                    body: self.sealer.seal(&body_context(&message), &body).await?,
                    id: message.clone(),
                    channel,
                    kind: Kind::Invite,
                    consent: ConsentBasis::HostAttested,
                    contact: contact.clone(),
                    language: gathering.language,
                    zip: Some(gathering.zip.as_str().to_owned()),
                    batch: Some(batch.clone()),
                });
                invites.push(Invite {
                    code,
                    gathering: gathering.id.clone(),
                    host: host.clone(),
                    batch: batch.clone(),
                    channel,
                    contact,
                    message,
                    created_at: now,
                    expires_at,
                });
            }
        }
        let record = InviteBatch {
            id: batch.clone(),
            gathering: gathering.id.clone(),
            host: host.clone(),
            sms: u32::try_from(preview.sms_to_send).unwrap_or(u32::MAX),
            email: u32::try_from(preview.emails_to_send).unwrap_or(u32::MAX),
            created_at: now,
            expires_at,
        };
        self.invites.put_invites(&record, &invites).await?;
        self.outbox.enqueue(&messages, now).await?;
        let queued: Vec<_> = messages
            .iter()
            .map(|m| (m.queued(), std::time::Duration::ZERO))
            .collect();
        let accepted = self.queue.send(&queued).await?;
        if accepted.iter().any(|ok| !ok) {
            return Err(HostError::Queue(QueueError {
                operation: "SendMessageBatch",
                source: "some invitations were not accepted by the queue".into(),
            }));
        }
        tracing::info!(
            outcome = "accepted",
            invites = messages.len(),
            "invitations queued"
        );
        Ok(batch)
    }

    /// The gathering's batches with their progress, oldest first.
    pub async fn invite_history(
        &self,
        gathering: &GatheringId,
        now: OffsetDateTime,
    ) -> Result<Vec<BatchProgress>, HostError> {
        let mut history = Vec::new();
        for batch in self.invites.batches(gathering, now).await? {
            let progress = self.outbox.progress(&batch.id).await?;
            history.push(BatchProgress { batch, progress });
        }
        Ok(history)
    }

    /// Which of these referral codes are this host's invitations to this gathering, by code.
    pub async fn attributions(
        &self,
        host: &ContactHash,
        gathering: &GatheringId,
        codes: &[String],
        now: OffsetDateTime,
    ) -> Result<Vec<(String, Attribution)>, HostError> {
        let codes: Vec<String> = codes
            .iter()
            .filter(|c| is_invite_code(c))
            .cloned()
            .collect();
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .invites
            .invites(&codes, now)
            .await?
            .into_iter()
            .filter(|i| &i.host == host && &i.gathering == gathering)
            .map(|i| (i.code, Attribution { channel: i.channel }))
            .collect())
    }

    /// Where a personal link leads: the gathering's page, with the code as its referral.
    pub async fn resolve_invite(
        &self,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<Option<GatheringId>, HostError> {
        if !is_invite_code(code) {
            return Ok(None);
        }
        Ok(self
            .invites
            .invites(&[code.to_owned()], now)
            .await?
            .into_iter()
            .next()
            .map(|i| i.gathering))
    }

    fn link(&self, code: &str) -> String {
        format!("{}/i/{code}", self.settings.public_base_url)
    }

    fn render_raw_sms(&self, gathering: &Gathering, host_name: &str, code: &str) -> String {
        let wording = crate::messages::wording(
            self.templates,
            crate::store::TemplateMessage::InviteSms,
            gathering.language,
        );
        render(
            wording,
            &[
                ("host", host_name),
                ("title", gathering.title.as_str()),
                (
                    "when",
                    &crate::messages::when(
                        gathering.starts_at,
                        &gathering.timezone,
                        gathering.language,
                    ),
                ),
                ("link", &self.link(code)),
                ("program", &self.settings.program.name),
            ],
        )
    }

    fn render(&self, gathering: &Gathering, host_name: &str, name: &str, code: &str) -> Rendered {
        let t = invite_text(gathering.language);
        let details = crate::registration::event_details(gathering, gathering.language);
        let link = self.link(code);
        let values = [
            ("host", host_name),
            ("name", name),
            ("title", details.title.as_str()),
            ("when", details.when.as_str()),
            ("place", details.place.as_str()),
            ("description", gathering.description.as_str()),
            ("link", link.as_str()),
            ("program", self.settings.program.name.as_str()),
        ];
        let written = self.render_raw_sms(gathering, host_name, code);
        let sms = segments::normalise(&written);
        Rendered {
            sms_fixed: sms != written,
            sms,
            email_subject: render(t.email_subject, &values),
            email_text: render(t.email_body, &values),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn invite_email(
        &self,
        gathering: &Gathering,
        host_name: &str,
        name: &str,
        code: &str,
        contact: &ContactHash,
        address: &str,
        now: OffsetDateTime,
    ) -> Result<String, HostError> {
        let t = invite_text(gathering.language);
        let rendered = self.render(gathering, host_name, name, code);
        let base = &self.settings.public_base_url;
        let unsubscribe = unsubscribe_url(
            base,
            &UnsubscribeToken::sign(&self.keys.link_key, contact, TokenPurpose::Marketing, now),
        );
        let forget = forget_url(
            base,
            &UnsubscribeToken::sign(&self.keys.link_key, contact, TokenPurpose::Forget, now),
        );
        let footer = render(
            t.email_footer,
            &[
                ("host", host_name),
                ("unsubscribe_url", unsubscribe.as_str()),
                ("forget_url", forget.as_str()),
            ],
        );
        let (text, html) = letter(&rendered.email_text, &footer, gathering.language);
        let to =
            crate::domain::EmailAddress::parse(address).map_err(|_| HostError::InvalidEmail)?;
        let email = Email::new(
            self.settings.from.clone(),
            to,
            &rendered.email_subject,
            text,
            html,
            gathering.language,
        )
        .with_list_unsubscribe(&unsubscribe)
        .with_date(now);
        Ok(String::from_utf8_lossy(&email.to_mime()?).into_owned())
    }
}

/// A queue entry that asks the gates about a person and channel: its message id is never stored,
/// so the load finds the recipient and the invite-window claim only.
fn probe(contact: ContactHash, channel: Channel) -> QueuedMessage {
    QueuedMessage {
        id: OutboundId::parse("preview").unwrap_or_else(OutboundId::random),
        contact,
        channel,
    }
}

/// `Gsm7` or `Ucs2`, for the host.
pub fn encoding_name(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Gsm7 => "GSM-7",
        Encoding::Ucs2 => "UCS-2",
    }
}

/// The funnel of a gathering: invited (from the batches) and joined (attributed RSVPs), per channel.
pub fn funnel(history: &[BatchProgress], joined: &[Attribution]) -> Funnel {
    let mut f = Funnel::default();
    for b in history {
        f.sms_invited += b.batch.sms;
        f.email_invited += b.batch.email;
    }
    for a in joined {
        match a.channel {
            Channel::Sms => f.sms_joined += 1,
            Channel::Email => f.email_joined += 1,
        }
    }
    f
}
