//! In-memory adapter of [`RegistrationStore`], for unit tests of the registration use case.

use std::collections::HashMap;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

use super::StoreError;
use super::registration::{
    PersonRecord, Recorded, RegistrationStore, SUBMISSION_TTL, window_start,
};
use crate::domain::Language;
use crate::privacy::ContactHash;

/// A contact as the memory store keeps it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryRegisteredContact {
    pub sms_opted_in: Option<bool>,
    pub email_opted_in: bool,
    pub address_sealed: Option<String>,
    pub first_name_sealed: Option<String>,
    pub language: Option<Language>,
    pub referral_code: Option<String>,
    pub referred_by: Option<String>,
    pub wants_to_host: bool,
}

#[derive(Debug, Default)]
struct State {
    submissions: HashMap<String, (Option<String>, OffsetDateTime)>,
    windows: HashMap<(String, i64), u32>,
    contacts: HashMap<String, MemoryRegisteredContact>,
    consents: Vec<(String, &'static str, String)>,
    referrals: HashMap<String, ContactHash>,
}

#[derive(Debug, Default)]
pub struct MemoryRegistrationStore {
    state: Mutex<State>,
}

impl MemoryRegistrationStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The contact stored under a keyed hash.
    pub fn contact(&self, hash: &ContactHash) -> Option<MemoryRegisteredContact> {
        self.lock().contacts.get(hash.as_str()).cloned()
    }

    /// Consent evidence: (contact hash, channel, wording).
    pub fn consents(&self) -> Vec<(String, &'static str, String)> {
        self.lock().consents.clone()
    }

    /// Submissions recorded (finished or not).
    pub fn submissions(&self) -> usize {
        self.lock().submissions.len()
    }

    /// Contacts recorded.
    pub fn contacts(&self) -> usize {
        self.lock().contacts.len()
    }

    /// Makes the contact opted out of texts, as a STOP would.
    pub fn opt_out(&self, hash: &ContactHash) {
        self.lock()
            .contacts
            .entry(hash.as_str().to_owned())
            .or_default()
            .sms_opted_in = Some(false);
    }
}

impl RegistrationStore for MemoryRegistrationStore {
    async fn finished_submission(
        &self,
        submission: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .lock()
            .submissions
            .get(submission)
            .filter(|(_, expires)| *expires > now)
            .and_then(|(answer, _)| answer.clone()))
    }

    async fn remaining(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<u32, StoreError> {
        let state = self.lock();
        let used = state
            .windows
            .get(&(key.to_owned(), window_start(now, window)))
            .copied()
            .unwrap_or(0);
        Ok(limit.saturating_sub(used))
    }

    async fn take(
        &self,
        key: &str,
        count: u32,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let used = state
            .windows
            .entry((key.to_owned(), window_start(now, window)))
            .or_default();
        if used.saturating_add(count) > limit {
            return Ok(false);
        }
        *used += count;
        Ok(true)
    }

    async fn record_person(
        &self,
        person: &PersonRecord<'_>,
        now: OffsetDateTime,
    ) -> Result<Recorded, StoreError> {
        let mut state = self.lock();
        if state
            .submissions
            .get(person.submission)
            .is_some_and(|(_, expires)| *expires > now)
        {
            return Ok(Recorded::AlreadyRecorded);
        }
        state
            .submissions
            .insert(person.submission.to_owned(), (None, now + SUBMISSION_TTL));
        {
            let own = state
                .contacts
                .entry(person.person.as_str().to_owned())
                .or_default();
            own.first_name_sealed = Some(person.first_name.as_str().to_owned());
            own.language = Some(person.language);
            own.referral_code = Some(person.referral_code.to_owned());
            if own.referred_by.is_none() {
                own.referred_by = person.referred_by.map(str::to_owned);
            }
            own.wants_to_host |= person.wants_to_host;
        }
        for (channel, given) in [("sms", &person.sms), ("email", &person.email)] {
            let Some(given) = given else { continue };
            let contact = state
                .contacts
                .entry(given.contact.as_str().to_owned())
                .or_default();
            contact.address_sealed = Some(given.address.as_str().to_owned());
            contact.language = Some(person.language);
            if channel == "sms" {
                contact.sms_opted_in.get_or_insert(true);
            } else {
                contact.email_opted_in = true;
            }
            state.consents.push((
                given.contact.as_str().to_owned(),
                channel,
                given.wording.to_owned(),
            ));
        }
        state
            .referrals
            .insert(person.referral_code.to_owned(), person.person.clone());
        Ok(Recorded::Written)
    }

    async fn finish_submission(
        &self,
        submission: &str,
        answer: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.lock().submissions.insert(
            submission.to_owned(),
            (Some(answer.to_owned()), now + SUBMISSION_TTL),
        );
        Ok(())
    }

    async fn referrer(&self, code: &str) -> Result<Option<ContactHash>, StoreError> {
        Ok(self.lock().referrals.get(code).cloned())
    }
}
