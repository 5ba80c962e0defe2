//! Domain types that parse: once you hold one, it is valid. No AWS or HTTP types here.

mod keyword;
mod message_sid;
mod phone;

pub use keyword::Keyword;
pub use message_sid::{MessageSid, MessageSidError};
pub use phone::{PhoneNumber, PhoneNumberError};
