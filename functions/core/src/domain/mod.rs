//! Domain types that parse: once you hold one, it is valid. No AWS or HTTP types here.

mod campaign_keyword;
mod email;
mod first_name;
mod gathering;
mod keyword;
mod language;
mod message_sid;
mod phone;
pub mod time_zone;
mod training;
mod zip;

pub use campaign_keyword::{CampaignKeyword, KeywordTarget, KeywordWord, KeywordWordError};
pub use email::{EmailAddress, EmailAddressError};
pub use first_name::{FirstName, FirstNameError};
pub use gathering::{
    ACCESSIBILITY_MAX_CHARS, Address, AddressDraft, DESCRIPTION_MAX_CHARS, Gathering,
    GatheringCode, GatheringCodeError, GatheringDraft, GatheringError, GatheringId,
    GatheringIdError, GatheringTitle, GatheringTitleError, PRIVATE_ADDRESS_NOTICE,
    is_reserved_word, reserved_words,
};
pub use keyword::{Keyword, names_an_opt_out_word, whole_word};
pub use language::Language;
pub use message_sid::{MessageSid, MessageSidError};
pub use phone::{PhoneNumber, PhoneNumberError, on_plus_one_plan};
pub use training::{
    Training, TrainingDraft, TrainingError, TrainingId, TrainingIdError, TrainingTitle,
    TrainingTitleError, TrainingUrl, TrainingUrlError,
};
pub(crate) use zip::data as zip_data;
pub use zip::{Zip, ZipError};
