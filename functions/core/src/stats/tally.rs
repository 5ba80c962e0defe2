//! What one stream record counts, read from its images (see the table in the module doc).

use aws_lambda_events::event::dynamodb::EventRecord;
use serde_dynamo::AttributeValue;

use super::{ByChannel, Counts};

type Image = serde_dynamo::Item;

fn text<'a>(image: &'a Image, name: &str) -> Option<&'a str> {
    match image.get(name) {
        Some(AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn number(image: &Image, name: &str) -> Option<u64> {
    match image.get(name) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

fn channel<'a>(counts: &'a mut ByChannel, name: Option<&str>) -> Option<&'a mut u64> {
    match name? {
        "sms" => Some(&mut counts.sms),
        "email" => Some(&mut counts.email),
        _ => None,
    }
}

fn bump(counter: Option<&mut u64>) {
    if let Some(c) = counter {
        *c += 1;
    }
}

/// The counts one stream record adds: nothing for the many changes the overview does not show (and
/// for a record of an unexpected shape, which the publisher logs).
pub fn tally(record: &EventRecord) -> Counts {
    let new = &record.change.new_image;
    let old = &record.change.old_image;
    let inserted = record.event_name == "INSERT";
    let mut counts = Counts::default();
    match text(new, "entity") {
        Some("contact") if inserted => counts.people = 1,
        Some("rsvp") if inserted => bump(match text(new, "source") {
            Some("sms") => Some(&mut counts.rsvps.sms),
            Some("form") => Some(&mut counts.rsvps.form),
            Some("invite") => Some(&mut counts.rsvps.invite),
            _ => None,
        }),
        Some("training_registration") if inserted => counts.registrations = 1,
        Some("consent") if inserted => {
            let by = match text(new, "action") {
                Some("opt_in") => Some(&mut counts.opt_ins),
                Some("opt_out") => Some(&mut counts.opt_outs),
                _ => None,
            };
            if let Some(by) = by {
                bump(channel(by, text(new, "channel")));
            }
        }
        Some("outbound_message") if text(new, "sk") == Some("OUTBOX") => {
            message(&mut counts, new, old);
        }
        Some("email_event") if inserted => bump(match text(new, "kind") {
            Some("hard_bounce") => Some(&mut counts.hard_bounces),
            Some("soft_bounce") => Some(&mut counts.soft_bounces),
            Some("complaint") => Some(&mut counts.complaints),
            _ => None,
        }),
        _ => {}
    }
    counts
}

/// A message reaching its final status, counted once: when its status changes to it.
fn message(counts: &mut Counts, new: &Image, old: &Image) {
    let status = text(new, "status");
    if status.is_none() || status == text(old, "status") {
        return;
    }
    let via = text(new, "channel");
    let by = match status {
        Some("sent") => {
            let sent = &mut counts.sent;
            match text(new, "kind") {
                Some("invite") => &mut sent.invite,
                Some("confirmation") => &mut sent.confirmation,
                Some("reminder") => &mut sent.reminder,
                Some("recording") => &mut sent.recording,
                Some("follow_up") => &mut sent.follow_up,
                _ => return,
            }
        }
        Some("skipped") => &mut counts.skipped,
        Some("failed") => &mut counts.failed,
        Some("unknown") => &mut counts.unknown,
        _ => return,
    };
    bump(channel(by, via));
    if status == Some("sent") && via == Some("sms") {
        counts.sms_segments = number(new, "segments").unwrap_or(1);
    }
}
