//! Twilio: REST client, webhook signatures, TwiML and message text tools.
//!
//! * [`signature`]: validate `X-Twilio-Signature` on webhooks and rebuild the URL Twilio signed.
//! * [`twiml`]: the TwiML documents a messaging webhook answers with.
//! * [`segments`]: GSM-7/UCS-2 encoding, segment counts and look-alike normalisation.
//! * [`client`]: send and fetch messages through Twilio's REST API, with typed errors and retries.
//!
//! Nothing here logs phone numbers or message bodies.

pub mod client;
pub mod segments;
pub mod signature;
pub mod twiml;

pub use client::{
    ClientConfig, Message, MessageStatus, OutboundMessage, RetryPolicy, Sender, TwilioAuth,
    TwilioClient, TwilioError,
};
pub use segments::{Encoding, SegmentInfo};
pub use signature::{SIGNATURE_HEADER, compute_signature, validate_form, validate_json};
pub use twiml::TWIML_CONTENT_TYPE;
