//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): what a receiver checks to
//! know a lead really comes from this relay and was not replayed.
//!
//! Each forwarded request carries `webhook-id` (the same on every retry of one message),
//! `webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature`: one
//! `v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>` per configured secret,
//! separated by spaces, so a receiver can rotate secrets without losing a lead.
//!
//! HMAC-SHA256 is RustCrypto's `hmac` over `sha2`, keyed once when the secret is read; a
//! signature is checked with its constant-time `verify_slice`. The RFC 4231 vectors and the
//! Standard Webhooks reference vector below keep the use of it honest.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A signing secret: `whsec_` followed by the base64 of 24 to 64 random bytes (the prefix may
/// be left out). Its `Debug` and `Display` never show the key.
#[derive(Clone, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct WebhookSecret {
    key: Vec<u8>,
    /// HMAC-SHA256 keyed with `key`, cloned for each message.
    mac: Hmac<Sha256>,
}

/// Why a text is not a usable secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Not base64 after the `whsec_` prefix.
    #[error("a webhook secret must be \"whsec_\" followed by base64 (e.g. from `leadgate-relay new-secret`)")]
    Base64,
    /// Too short or too long.
    #[error("a webhook secret must hold 24 to 64 bytes; this one holds {0}")]
    Length(usize),
}

impl WebhookSecret {
    /// Parses `whsec_<base64>` (or the bare base64).
    pub fn parse(text: &str) -> Result<WebhookSecret, SecretError> {
        let text = text.trim();
        let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        let key = STANDARD.decode(encoded).map_err(|_| SecretError::Base64)?;
        WebhookSecret::from_bytes(&key)
    }

    /// A secret from `bytes` (24 to 64 of them).
    pub fn from_bytes(bytes: &[u8]) -> Result<WebhookSecret, SecretError> {
        if !(24..=64).contains(&bytes.len()) {
            return Err(SecretError::Length(bytes.len()));
        }
        Ok(WebhookSecret { key: bytes.to_vec(), mac: keyed(bytes)? })
    }

    /// The secret as a receiver configures it: `whsec_<base64>`.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// `v1,<base64 signature>` of one message.
    pub fn sign(&self, msg_id: &str, timestamp: u64, body: &[u8]) -> String {
        let tag = self.message_mac(msg_id, timestamp, body).finalize().into_bytes();
        format!("v1,{}", STANDARD.encode(tag))
    }

    /// Whether `header` (a `webhook-signature` value) holds a valid `v1` signature of the
    /// message by this secret, compared in constant time. The receiver's side; the relay uses
    /// it in tests.
    pub fn verify(&self, msg_id: &str, timestamp: u64, body: &[u8], header: &str) -> bool {
        header.split_whitespace().filter_map(|sig| sig.strip_prefix("v1,")).any(|encoded| {
            STANDARD.decode(encoded).is_ok_and(|tag| {
                self.message_mac(msg_id, timestamp, body).verify_slice(&tag).is_ok()
            })
        })
    }

    /// The MAC over `"{id}.{timestamp}.{body}"`, not yet finalized.
    fn message_mac(&self, msg_id: &str, timestamp: u64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        let timestamp = timestamp.to_string();
        for part in [msg_id.as_bytes(), b".", timestamp.as_bytes(), b".", body] {
            mac.update(part);
        }
        mac
    }
}

/// HMAC-SHA256 keyed with `key` (RFC 2104; any key length is valid, so the error is only
/// there because the `hmac` API has one).
fn keyed(key: &[u8]) -> Result<Hmac<Sha256>, SecretError> {
    Hmac::<Sha256>::new_from_slice(key).map_err(|_| SecretError::Length(key.len()))
}

impl PartialEq for WebhookSecret {
    fn eq(&self, other: &WebhookSecret) -> bool {
        self.key == other.key
    }
}

impl Eq for WebhookSecret {}

impl TryFrom<String> for WebhookSecret {
    type Error = SecretError;

    fn try_from(text: String) -> Result<WebhookSecret, SecretError> {
        WebhookSecret::parse(&text)
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(whsec_…)")
    }
}

/// The `webhook-signature` header: one `v1,…` per secret, newest (first) first.
pub fn signature_header(
    secrets: &[WebhookSecret],
    msg_id: &str,
    timestamp: u64,
    body: &[u8],
) -> String {
    secrets.iter().map(|s| s.sign(msg_id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        let long_key = [0xaau8; 131];
        // (key, message, expected HMAC-SHA256)
        let cases: [(&[u8], &[u8], &str); 3] = [
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &long_key,
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, message, want) in cases {
            let tag = keyed(key).unwrap().chain_update(message).finalize().into_bytes();
            assert_eq!(hex(&tag), want);
        }
    }

    #[test]
    fn signs_like_the_standard_webhooks_reference() {
        // The vector of the Standard Webhooks reference libraries.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let sig = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let other = WebhookSecret::from_bytes(&[7; 32]).unwrap();
        let header = signature_header(
            &[other.clone(), secret.clone()],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
        );
        assert!(secret.verify("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, &header));
        assert!(other.verify("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, &header));
        assert!(!secret.verify("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body, &header));
        assert!(!secret.verify("msg_other", 1614265330, body, &header));
    }

    #[test]
    fn secrets_are_checked_and_never_printed() {
        let cases = [
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Ok(())),
            ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Ok(())),
            ("whsec_not base64!", Err(SecretError::Base64)),
            ("whsec_c2hvcnQ=", Err(SecretError::Length(5))),
        ];
        for (text, want) in cases {
            assert_eq!(WebhookSecret::parse(text).map(|_| ()), want, "{text}");
        }
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(secret.expose(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert!(!format!("{secret:?}").contains("MfKQ"));
    }
}
