//! A local stand-in for Twilio's Programmable Messaging: the Messages REST
//! API (2010-04-01), signed status callbacks, inbound SMS webhooks driven by
//! a phone simulator, opt-out keywords, rate and concurrency limits, and
//! injected faults (server errors, 429 storms, slow answers, resets).
//!
//! It shares no code with the project's own Twilio client: signing, segment
//! counting and request validation are written here from Twilio's docs.

pub mod config;
pub mod conn;
pub mod faults;
pub mod page;
pub mod segments;
pub mod server;
pub mod signature;
pub mod store;
pub mod twiml;
pub mod validate;

pub use config::{Command, Config};
pub use server::{serve, spawn};
