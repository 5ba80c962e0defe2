//! The campaign's counters: what stream records count, that the publisher counts each record once
//! (only those its batch is done with), and the overview's sums and rates.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use time::macros::date;

use super::*;
use crate::domain_events::tests::{ALICE, BOB, batch, consent, message, record, rsvp};
use crate::domain_events::{MemoryBus, MemoryPersonIds, Publisher};

/// The UTC day of the fixtures' records (`ApproximateCreationDateTime` 1 780 000 000 + n).
const DAY: Date = date!(2026 - 05 - 28);

type Testing = Publisher<MemoryBus, MemoryPersonIds, MemoryCampaignStats>;

fn publisher() -> Testing {
    Publisher::new(
        MemoryBus::default(),
        MemoryPersonIds::default(),
        MemoryCampaignStats::default(),
    )
}

fn counted(p: &Testing) -> Counts {
    p.stats
        .days
        .lock()
        .unwrap()
        .get(&DAY)
        .copied()
        .unwrap_or_default()
}

fn contact() -> Value {
    json!({
        "pk": format!("CONTACT#{ALICE}"), "sk": "CONTACT", "entity": "contact",
        "person_id": "person-a", "created_at": "2026-05-28T10:00:00Z",
    })
}

fn email_event(kind: &str) -> Value {
    json!({
        "pk": format!("CONTACT#{BOB}"), "sk": format!("EMAILEVENT#fb-{kind}"), "entity": "email_event",
        "kind": kind, "at": "2026-05-28T10:00:00Z", "recorded_at": "2026-05-28T10:00:01Z",
        "expires_at": 1_790_000_000,
    })
}

fn sent(channel: &str, kind: &str, segments: Option<u32>) -> Value {
    let mut m = message("sent");
    m["channel"] = json!(channel);
    m["kind"] = json!(kind);
    if let Some(n) = segments {
        m["segments"] = json!(n);
    }
    m
}

fn modify(seq: u64, new: Value, old_status: &str) -> Value {
    let mut old = new.clone();
    old["status"] = json!(old_status);
    record(seq, "MODIFY", new, Some(old))
}

#[tokio::test]
async fn a_batch_of_people_rsvps_opt_outs_and_sent_messages_adds_what_each_counts_to_its_day() {
    let p = publisher();
    let mut form = rsvp("going");
    form["source"] = json!("form");
    let mut by_text = rsvp("waitlist");
    by_text["source"] = json!("sms");
    let response = p
        .handle(&batch(vec![
            record(1, "INSERT", contact(), None),
            record(2, "INSERT", form, None),
            record(3, "INSERT", by_text, None),
            record(4, "INSERT", consent("opt_in", "sms", "keyword"), None),
            record(5, "INSERT", consent("opt_out", "sms", "keyword"), None),
            record(6, "INSERT", consent("opt_in", "email", "form"), None),
            modify(7, sent("sms", "invite", Some(2)), "sending"),
            modify(8, sent("email", "reminder", None), "sending"),
            modify(9, message("failed"), "sending"),
        ]))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());

    let c = counted(&p);
    assert_eq!(c.people, 1);
    assert_eq!(
        c.rsvps,
        RsvpsBySource {
            sms: 1,
            form: 1,
            invite: 0
        }
    );
    assert_eq!(c.opt_ins, ByChannel { sms: 1, email: 1 });
    assert_eq!(c.opt_outs, ByChannel { sms: 1, email: 0 });
    assert_eq!(c.invites_sent(), ByChannel { sms: 1, email: 0 });
    assert_eq!(c.sent.reminder, ByChannel { sms: 0, email: 1 });
    assert_eq!((c.texts_sent(), c.emails_sent()), (1, 1));
    assert_eq!(c.sms_segments, 2);
    assert_eq!(c.failed, ByChannel { sms: 1, email: 0 });
    assert_eq!(p.stats.writes.lock().unwrap().len(), 1, "one write per day");
}

#[tokio::test]
async fn when_the_third_event_is_refused_only_the_two_before_it_are_counted_and_the_retry_counts_the_rest_once()
 {
    let p = publisher();
    p.bus.refuse.lock().unwrap().push("person.opted_out".into());
    let records = vec![
        record(1, "INSERT", rsvp("going"), None),
        record(2, "INSERT", consent("opt_in", "sms", "keyword"), None),
        record(3, "INSERT", consent("opt_out", "sms", "keyword"), None),
        modify(4, sent("sms", "invite", Some(1)), "sending"),
    ];
    let response = p.handle(&batch(records.clone())).await.unwrap();
    assert_eq!(response.batch_item_failures.len(), 1);
    let c = counted(&p);
    assert_eq!((c.rsvps.total(), c.opt_ins.sms), (1, 1));
    assert_eq!((c.opt_outs.sms, c.texts_sent()), (0, 0));

    // Lambda retries from the refused record (its sequence number), not the records before it.
    p.bus.refuse.lock().unwrap().clear();
    let response = p.handle(&batch(records[2..].to_vec())).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let c = counted(&p);
    assert_eq!((c.rsvps.total(), c.opt_ins.sms), (1, 1));
    assert_eq!((c.opt_outs.sms, c.texts_sent(), c.sms_segments), (1, 1, 1));
}

#[tokio::test]
async fn a_counter_write_that_fails_does_not_fail_the_batch_whose_events_are_out() {
    let p = publisher();
    p.stats.refuse.store(true, Ordering::SeqCst);
    let response = p
        .handle(&batch(vec![record(1, "INSERT", rsvp("going"), None)]))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(p.bus.published.lock().unwrap().len(), 1);
    assert_eq!(counted(&p), Counts::default());
}

#[tokio::test]
async fn a_message_counts_once_when_it_settles_not_while_it_is_claimed_or_rewritten_with_its_status()
 {
    let p = publisher();
    p.handle(&batch(vec![
        record(1, "INSERT", message("pending"), None),
        modify(2, message("sending"), "pending"),
        modify(3, sent("sms", "confirmation", None), "sending"),
        modify(4, sent("sms", "confirmation", None), "sent"),
        modify(5, message("skipped"), "pending"),
    ]))
    .await
    .unwrap();
    let c = counted(&p);
    assert_eq!(c.sent.confirmation, ByChannel { sms: 1, email: 0 });
    assert_eq!(
        c.sms_segments, 1,
        "a text without its segments counts as one"
    );
    assert_eq!(c.skipped, ByChannel { sms: 1, email: 0 });
    assert_eq!(c.sent.total().total(), 1);
}

#[tokio::test]
async fn bounces_and_complaints_count_from_email_event_records_which_publish_no_event() {
    let p = publisher();
    p.handle(&batch(vec![
        record(1, "INSERT", email_event("hard_bounce"), None),
        record(2, "INSERT", email_event("soft_bounce"), None),
        record(3, "INSERT", email_event("complaint"), None),
        record(4, "INSERT", consent("opt_out", "email", "complaint"), None),
        modify(5, sent("email", "invite", None), "sending"),
    ]))
    .await
    .unwrap();
    let c = counted(&p);
    assert_eq!((c.hard_bounces, c.soft_bounces, c.complaints), (1, 1, 1));
    assert_eq!(c.opt_outs.email, 1);
    assert_eq!(c.bounce_rate(), Some(1.0));
    let kinds: Vec<String> = p
        .bus
        .published
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.kind.clone())
        .collect();
    assert_eq!(kinds, ["person.opted_out", "invite.sent"]);
}

#[tokio::test]
async fn changes_the_overview_does_not_show_write_nothing() {
    let p = publisher();
    let mut contact_changed = contact();
    contact_changed["updated_at"] = json!("2026-05-28T11:00:00Z");
    p.handle(&batch(vec![
        record(1, "MODIFY", contact_changed, Some(contact())),
        modify(2, rsvp("going"), "waitlist"),
    ]))
    .await
    .unwrap();
    assert!(p.stats.writes.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_same_batch_written_twice_counts_once() {
    let stats = MemoryCampaignStats::default();
    let one = Counts {
        people: 1,
        ..Counts::default()
    };
    stats.add(DAY, &one, "event-7").await.unwrap();
    stats.add(DAY, &one, "event-7").await.unwrap();
    stats.add(DAY, &one, "event-8").await.unwrap();
    assert_eq!(stats.overview().await.unwrap().total.people, 2);
}

#[tokio::test]
async fn the_overview_sums_every_day_and_lists_recent_days_with_the_quiet_ones_as_zero() {
    let stats = MemoryCampaignStats::default();
    let day = |people, texts| {
        let mut c = Counts {
            people,
            ..Counts::default()
        };
        c.sent.invite.sms = texts;
        c
    };
    stats
        .add(date!(2026 - 05 - 01), &day(3, 10), "a")
        .await
        .unwrap();
    stats
        .add(date!(2026 - 05 - 27), &day(2, 5), "b")
        .await
        .unwrap();
    stats
        .add(date!(2026 - 05 - 28), &day(1, 1), "c")
        .await
        .unwrap();
    let overview = stats.overview().await.unwrap();
    assert_eq!(overview.total.people, 6);
    assert_eq!(overview.total.invites_sent().sms, 16);
    assert_eq!(overview.days.len(), 3);

    let recent = overview.last_days(date!(2026 - 05 - 29), 14);
    assert_eq!(recent.len(), 14);
    assert_eq!(recent[0].0, date!(2026 - 05 - 16));
    assert_eq!(recent[13], (date!(2026 - 05 - 29), Counts::default()));
    assert_eq!(recent[12].1.people, 1);
    assert_eq!(recent[11].1.people, 2);
    let people: u64 = recent.iter().map(|(_, c)| c.people).sum();
    assert_eq!(people, 3, "1 May is older than 14 days");
}

#[test]
fn rates_divide_opt_outs_by_opt_ins_and_bounces_by_emails_sent_and_are_none_before_any() {
    let mut c = Counts::default();
    assert_eq!(c.opt_out_rate(), None);
    assert_eq!(c.bounce_rate(), None);
    assert_eq!(c.complaint_rate(), None);

    c.opt_ins = ByChannel { sms: 30, email: 10 };
    c.opt_outs = ByChannel { sms: 3, email: 1 };
    c.sent.invite.email = 150;
    c.sent.confirmation.email = 50;
    c.hard_bounces = 4;
    c.complaints = 1;
    assert_eq!(c.opt_out_rate(), Some(0.1));
    assert_eq!(c.sms_opt_out_rate(), Some(0.1));
    assert_eq!(c.email_opt_out_rate(), Some(0.1));
    assert_eq!(c.bounce_rate(), Some(0.02));
    assert_eq!(c.complaint_rate(), Some(0.005));
}

#[test]
fn every_counter_has_its_own_attribute_name() {
    let mut c = Counts::default();
    let mut names: Vec<&str> = c.slots().iter().map(|(n, _)| *n).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), COUNTERS);
    let all_ones = {
        let mut c = Counts::default();
        for (_, v) in c.slots() {
            *v = 1;
        }
        c
    };
    assert_eq!(all_ones.nonzero().len(), COUNTERS);
    let mut sum = BTreeMap::new();
    sum.insert(DAY, all_ones);
    assert_eq!(Overview::of_days(sum).total, all_ones);
}
