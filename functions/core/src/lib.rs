//! rising's shared library. Layers, from the bottom up:
//! `domain` (newtypes that parse) · `privacy` (keyed hashes, envelope encryption) · `sms` (Twilio client,
//! signatures, TwiML, segments) · `config` (typed configuration) · `secrets` (SSM, fetched on first use) · `store`
//! (DynamoDB behind port traits, plus in-memory fakes) · use cases (`conversation`, `delivery`), each with its own
//! error enum mapped to HTTP statuses in one place.

pub mod admin;
pub mod aws;
pub mod aws_json;
pub mod config;
pub mod conversation;
pub mod delivery;
pub mod domain;
pub mod domain_events;
pub mod email;
pub mod email_events;
pub mod followups;
pub mod geo;
pub mod hosting;
pub mod ids;
pub mod links;
pub mod messages;
pub mod outbound;
pub mod privacy;
pub mod registration;
pub mod secrets;
pub mod serve;
pub mod sms;
pub mod stats;
pub mod store;
pub mod telemetry;
pub mod web;
pub mod webhook;
