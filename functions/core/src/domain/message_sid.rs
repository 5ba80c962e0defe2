//! Twilio's identifier of a message: two upper-case letters (`SM`, `MM`) and 32 hex digits.

/// A syntactically valid Twilio message SID; the key that makes inbound processing idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageSid(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MessageSid must be SM or MM followed by 32 hexadecimal characters")]
pub struct MessageSidError;

impl MessageSid {
    pub fn parse(input: &str) -> Result<Self, MessageSidError> {
        let valid = input.len() == 34
            && (input.starts_with("SM") || input.starts_with("MM"))
            && input[2..].chars().all(|c| c.is_ascii_hexdigit());
        if valid {
            Ok(Self(input.to_string()))
        } else {
            Err(MessageSidError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_twilio_sms_sid_parses() {
        assert!(MessageSid::parse("SM1234567890abcdef1234567890abcdef").is_ok());
        assert!(MessageSid::parse("MMABCDEF1234567890abcdef1234567890").is_ok());
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "SM123",
            "XX1234567890abcdef1234567890abcdef",
            "SM1234567890abcdef1234567890abcdeg",
            "SM1234567890abcdef1234567890abcdef0",
        ] {
            assert_eq!(MessageSid::parse(bad), Err(MessageSidError), "{bad}");
        }
    }
}
