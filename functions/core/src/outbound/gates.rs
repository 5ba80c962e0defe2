//! The gates every message passes at send time, as one pure decision.

use time::OffsetDateTime;

use super::quiet_hours::SendWindow;
use super::{Channel, Kind, Loaded, QueuedMessage, SkipReason, Status, StoredMessage};

/// What to do with a queued message now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing: it already has an outcome, or it no longer exists (erased or expired).
    Ack,
    /// Another worker holds its lease: leave it on the queue and look again later.
    Retry,
    /// A worker claimed it and its lease ran out with no outcome: record `unknown`, never resend.
    Abandon,
    /// The queue message does not match the stored one.
    Mismatch,
    /// Do not send, for this reason.
    Skip(SkipReason),
    /// Outside the recipient's sending hours: put it back on the queue until `until`.
    Defer { until: OffsetDateTime },
    /// Claim it and send it.
    Send,
}

/// Decides what to do with `queued`, given what was loaded for it, the recipient's sending window
/// (`Open` when quiet hours do not apply) and the time.
///
/// Order matters: the message's own state first, then the reasons never to send (consent, opt-out,
/// suppression, undeliverable, already invited) so that nothing is deferred only to be skipped in
/// the morning, and quiet hours last.
pub fn decide(
    queued: &QueuedMessage,
    loaded: &Loaded,
    window: &SendWindow,
    now: OffsetDateTime,
) -> Decision {
    let Some(message) = &loaded.message else {
        return Decision::Ack;
    };
    if message.contact != queued.contact || message.channel != queued.channel {
        return Decision::Mismatch;
    }
    match message.status {
        Status::Pending => {}
        Status::Sending => {
            return match message.lease_until {
                Some(until) if until > now => Decision::Retry,
                _ => Decision::Abandon,
            };
        }
        _ => return Decision::Ack,
    }
    if let Some(reason) = skip_reason(message, loaded) {
        return Decision::Skip(reason);
    }
    match window {
        SendWindow::Open => Decision::Send,
        SendWindow::Closed { opens_at } => Decision::Defer { until: *opens_at },
    }
}

/// What to do with a message whose queue message reached the dead-letter queue (it failed every
/// delivery): settle it so nothing stays `pending` or `sending` forever, and never send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    /// Nothing: it has an outcome, or it no longer exists.
    Ack,
    /// A worker still holds its lease: look again after the visibility timeout.
    Retry,
    /// Record this outcome.
    Record(super::Change),
}

/// Settles a dead-lettered message: a claim whose lease ran out becomes `unknown` (it may have been
/// sent: never again), a message never claimed becomes `failed` (`gave_up`).
pub fn settle_dead_letter(loaded: &Loaded, now: OffsetDateTime) -> Settle {
    let Some(message) = &loaded.message else {
        return Settle::Ack;
    };
    match message.status {
        Status::Sending => match message.lease_until {
            Some(until) if until > now => Settle::Retry,
            _ => Settle::Record(super::Change::Unknown),
        },
        Status::Pending => Settle::Record(super::Change::Failed {
            reason: super::FailReason::GaveUp,
            code: None,
            mark: None,
        }),
        _ => Settle::Ack,
    }
}

fn skip_reason(message: &StoredMessage, loaded: &Loaded) -> Option<SkipReason> {
    reason(
        message.kind,
        message.consent,
        message.channel,
        Some(&message.id),
        loaded,
    )
}

/// Why a host's invitation on `channel` would be skipped if sent now: the preview's answer before a
/// batch is accepted (the send worker asks again at send time, with the same rules). `loaded`: the
/// recipient and invite-window claim read for that contact and channel.
pub fn invite_skip_reason(channel: Channel, loaded: &Loaded) -> Option<SkipReason> {
    reason(
        Kind::Invite,
        super::ConsentBasis::HostAttested,
        channel,
        None,
        loaded,
    )
}

/// `id`: the message asking, whose own invite-window claim does not count against it.
fn reason(
    kind: Kind,
    consent: super::ConsentBasis,
    channel: Channel,
    id: Option<&super::OutboundId>,
    loaded: &Loaded,
) -> Option<SkipReason> {
    if !consent.covers(kind) {
        return Some(SkipReason::NoConsent);
    }
    let recipient = loaded.recipient.clone().unwrap_or_default();
    if recipient.suppressed {
        return Some(SkipReason::Suppressed);
    }
    match channel {
        Channel::Sms => {
            if recipient.sms_opted_in == Some(false) {
                return Some(SkipReason::OptedOut);
            }
            if recipient.sms_undeliverable {
                return Some(SkipReason::Undeliverable);
            }
            // Texts other than a host's invite go only to people who opted in to texts.
            if kind != Kind::Invite && recipient.sms_opted_in != Some(true) {
                return Some(SkipReason::NoConsent);
            }
        }
        Channel::Email => {
            if recipient.email_undeliverable {
                return Some(SkipReason::Undeliverable);
            }
            // Unsubscribing stops marketing email; the answer to the person's own action still goes.
            if recipient.email_suppressed && kind != Kind::Confirmation {
                return Some(SkipReason::OptedOut);
            }
        }
    }
    if kind.once_per_window()
        && loaded
            .claim
            .as_ref()
            .is_some_and(|claim| Some(&claim.message) != id)
    {
        return Some(SkipReason::AlreadyInvited);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Language;
    use crate::outbound::{BatchId, ConsentBasis, InviteClaim, OutboundId, Recipient};
    use crate::privacy::{ContactHash, Sealed};
    use time::Duration;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap()
    }

    fn contact() -> ContactHash {
        ContactHash::parse("p.gatekeeper").unwrap()
    }

    fn sealed() -> Sealed {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(crate::privacy::Sealer::in_memory().seal("test", "x"))
            .unwrap()
    }

    fn message(kind: Kind, channel: Channel, consent: ConsentBasis) -> StoredMessage {
        StoredMessage {
            id: OutboundId::parse("m1").unwrap(),
            channel,
            kind,
            consent,
            contact: contact(),
            to: sealed(),
            body: sealed(),
            language: Language::En,
            zip: None,
            batch: BatchId::parse("b1"),
            status: Status::Pending,
            attempts: 0,
            lease_until: None,
            deferred: false,
            created_at: now(),
        }
    }

    fn queued(channel: Channel) -> QueuedMessage {
        QueuedMessage {
            id: OutboundId::parse("m1").unwrap(),
            contact: contact(),
            channel,
        }
    }

    fn invite() -> Loaded {
        Loaded {
            message: Some(message(
                Kind::Invite,
                Channel::Sms,
                ConsentBasis::HostAttested,
            )),
            recipient: None,
            claim: None,
        }
    }

    fn decide_open(loaded: &Loaded) -> Decision {
        decide(
            &queued(loaded.message.as_ref().unwrap().channel),
            loaded,
            &SendWindow::Open,
            now(),
        )
    }

    #[test]
    fn a_host_invite_to_a_new_person_in_their_daytime_is_sent() {
        assert_eq!(decide_open(&invite()), Decision::Send);
    }

    #[test]
    fn a_person_who_texted_stop_is_never_invited() {
        let mut loaded = invite();
        loaded.recipient = Some(Recipient {
            sms_opted_in: Some(false),
            ..Recipient::default()
        });
        assert_eq!(decide_open(&loaded), Decision::Skip(SkipReason::OptedOut));
    }

    #[test]
    fn an_erased_person_is_skipped_on_every_channel_and_kind() {
        for (kind, channel, consent) in [
            (Kind::Invite, Channel::Sms, ConsentBasis::HostAttested),
            (Kind::Invite, Channel::Email, ConsentBasis::HostAttested),
            (Kind::Reminder, Channel::Sms, ConsentBasis::OptedIn),
            (Kind::Confirmation, Channel::Email, ConsentBasis::Requested),
        ] {
            let loaded = Loaded {
                message: Some(message(kind, channel, consent)),
                recipient: Some(Recipient {
                    suppressed: true,
                    sms_opted_in: Some(true),
                    ..Recipient::default()
                }),
                claim: None,
            };
            assert_eq!(
                decide_open(&loaded),
                Decision::Skip(SkipReason::Suppressed),
                "{kind:?} {channel:?}"
            );
        }
    }

    #[test]
    fn undeliverable_numbers_are_not_tried_again() {
        let mut loaded = invite();
        loaded.recipient = Some(Recipient {
            sms_undeliverable: true,
            ..Recipient::default()
        });
        assert_eq!(
            decide_open(&loaded),
            Decision::Skip(SkipReason::Undeliverable)
        );
    }

    #[test]
    fn a_reminder_text_needs_an_sms_opt_in_on_record() {
        let mut loaded = Loaded {
            message: Some(message(Kind::Reminder, Channel::Sms, ConsentBasis::OptedIn)),
            recipient: None,
            claim: None,
        };
        assert_eq!(decide_open(&loaded), Decision::Skip(SkipReason::NoConsent));
        loaded.recipient = Some(Recipient {
            sms_opted_in: Some(true),
            ..Recipient::default()
        });
        assert_eq!(decide_open(&loaded), Decision::Send);
    }

    #[test]
    fn a_consent_basis_that_does_not_cover_the_kind_is_no_consent() {
        let loaded = Loaded {
            message: Some(message(Kind::Invite, Channel::Email, ConsentBasis::OptedIn)),
            ..Loaded::default()
        };
        assert_eq!(decide_open(&loaded), Decision::Skip(SkipReason::NoConsent));
        let loaded = Loaded {
            message: Some(message(
                Kind::Reminder,
                Channel::Email,
                ConsentBasis::HostAttested,
            )),
            ..Loaded::default()
        };
        assert_eq!(decide_open(&loaded), Decision::Skip(SkipReason::NoConsent));
    }

    #[test]
    fn unsubscribed_addresses_get_confirmations_of_their_own_action_but_nothing_else() {
        let suppressed = Some(Recipient {
            email_suppressed: true,
            ..Recipient::default()
        });
        let confirmation = Loaded {
            message: Some(message(
                Kind::Confirmation,
                Channel::Email,
                ConsentBasis::Requested,
            )),
            recipient: suppressed.clone(),
            claim: None,
        };
        assert_eq!(decide_open(&confirmation), Decision::Send);
        let recording = Loaded {
            message: Some(message(
                Kind::Recording,
                Channel::Email,
                ConsentBasis::OptedIn,
            )),
            recipient: suppressed,
            claim: None,
        };
        assert_eq!(
            decide_open(&recording),
            Decision::Skip(SkipReason::OptedOut)
        );
    }

    #[test]
    fn someone_already_invited_by_another_host_in_the_window_is_skipped() {
        let mut loaded = invite();
        loaded.claim = Some(InviteClaim {
            message: OutboundId::parse("other").unwrap(),
            until: now() + Duration::days(3),
        });
        assert_eq!(
            decide_open(&loaded),
            Decision::Skip(SkipReason::AlreadyInvited)
        );
        // Its own claim (a retry after a crash) is no reason to skip.
        loaded.claim = Some(InviteClaim {
            message: OutboundId::parse("m1").unwrap(),
            until: now() + Duration::days(3),
        });
        assert_eq!(decide_open(&loaded), Decision::Send);
    }

    #[test]
    fn outside_sending_hours_it_waits_for_the_morning() {
        let morning = now() + Duration::hours(9);
        assert_eq!(
            decide(
                &queued(Channel::Sms),
                &invite(),
                &SendWindow::Closed { opens_at: morning },
                now()
            ),
            Decision::Defer { until: morning }
        );
    }

    #[test]
    fn a_skip_wins_over_quiet_hours_so_nothing_waits_only_to_be_skipped() {
        let mut loaded = invite();
        loaded.recipient = Some(Recipient {
            sms_opted_in: Some(false),
            ..Recipient::default()
        });
        let closed = SendWindow::Closed {
            opens_at: now() + Duration::hours(3),
        };
        assert_eq!(
            decide(&queued(Channel::Sms), &loaded, &closed, now()),
            Decision::Skip(SkipReason::OptedOut)
        );
    }

    #[test]
    fn sent_skipped_and_missing_messages_are_acknowledged() {
        let mut loaded = invite();
        for status in [
            Status::Sent,
            Status::Skipped,
            Status::Failed,
            Status::Unknown,
        ] {
            loaded.message.as_mut().unwrap().status = status;
            assert_eq!(decide_open(&loaded), Decision::Ack, "{status:?}");
        }
        assert_eq!(
            decide(
                &queued(Channel::Sms),
                &Loaded::default(),
                &SendWindow::Open,
                now()
            ),
            Decision::Ack
        );
    }

    #[test]
    fn a_live_lease_waits_and_an_expired_one_is_abandoned_not_resent() {
        let mut loaded = invite();
        let m = loaded.message.as_mut().unwrap();
        m.status = Status::Sending;
        m.lease_until = Some(now() + Duration::seconds(5));
        assert_eq!(decide_open(&loaded), Decision::Retry);
        loaded.message.as_mut().unwrap().lease_until = Some(now() - Duration::seconds(1));
        assert_eq!(decide_open(&loaded), Decision::Abandon);
    }

    #[test]
    fn a_queue_message_naming_another_contact_is_a_mismatch() {
        let mut q = queued(Channel::Sms);
        q.contact = ContactHash::parse("p.someone-else").unwrap();
        assert_eq!(
            decide(&q, &invite(), &SendWindow::Open, now()),
            Decision::Mismatch
        );
    }
}
