//! Slack's request signing (v0): `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<body>">`
//! keyed with the app's signing secret, `X-Slack-Request-Timestamp` in Unix seconds. A request
//! older (or newer) than five minutes is refused even when its signature is right: a replay.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far a request's timestamp may be from now, in seconds (Slack's documented window).
pub const MAX_SKEW_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the request carries no X-Slack-Signature or X-Slack-Request-Timestamp header")]
    Missing,
    #[error("X-Slack-Request-Timestamp is not a Unix time in seconds")]
    BadTimestamp,
    #[error("the request was signed more than five minutes from now")]
    Stale,
    #[error("the request signature does not match")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

/// The `X-Slack-Signature` value Slack sends for `body` at `timestamp`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    format!(
        "v0={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// What elastic-jit's own seals are computed over begins with this, so a seal can never stand
/// for a Slack signature (`v0:...`) or the reverse.
const SEAL_DOMAIN: &[u8] = b"elastic-jit-seal:v1:";

fn seal_mac(secret: &[u8], data: &[u8]) -> HmacSha256 {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(SEAL_DOMAIN);
    mac.update(data);
    mac
}

/// A seal over `data` with the signing secret (hex HMAC-SHA256): how a click that was verified
/// on arrival stays unforgeable while it waits in a queue.
pub fn seal(secret: &[u8], data: &[u8]) -> String {
    hex::encode(seal_mac(secret, data).finalize().into_bytes())
}

/// Whether `seal` is [`seal`] of `data` (constant-time comparison).
pub fn check_seal(secret: &[u8], data: &[u8], seal: &str) -> bool {
    hex::decode(seal).is_ok_and(|given| seal_mac(secret, data).verify_slice(&given).is_ok())
}

/// Check a request as Slack documents it; `now` in Unix seconds. The comparison is constant
/// time (`Mac::verify_slice`).
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if (now - at).abs() > MAX_SKEW_SECS {
        return Err(SignatureError::Stale);
    }
    let given = signature
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(SignatureError::Mismatch)?;
    mac(secret, timestamp, body)
        .verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's documented example (api.slack.com/authentication/verifying-requests-from-slack).
    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slacks_documented_example_verifies() {
        assert_eq!(sign(SECRET, TS, BODY), SIG);
        assert_eq!(
            verify(SECRET, Some(TS), Some(SIG), BODY, 1531420618 + 10),
            Ok(())
        );
    }

    #[test]
    fn forged_replayed_and_malformed_requests_are_refused() {
        let now = 1531420618;
        assert_eq!(
            verify(b"another secret", Some(TS), Some(SIG), BODY, now),
            Err(SignatureError::Mismatch)
        );
        let mut tampered = BODY.to_vec();
        tampered[0] = b'T';
        assert_eq!(
            verify(SECRET, Some(TS), Some(SIG), &tampered, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, Some(TS), Some(SIG), BODY, now + MAX_SKEW_SECS + 1),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(TS), Some(SIG), BODY, now - MAX_SKEW_SECS - 1),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, None, Some(SIG), BODY, now),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(SECRET, Some("soon"), Some(SIG), BODY, now),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify(SECRET, Some(TS), Some(&SIG[3..]), BODY, now),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_seal_binds_its_data_to_the_secret_and_is_no_slack_signature() {
        let s = seal(SECRET, b"{\"request_id\":\"r1\"}");
        assert!(check_seal(SECRET, b"{\"request_id\":\"r1\"}", &s));
        assert!(!check_seal(SECRET, b"{\"request_id\":\"r2\"}", &s));
        assert!(!check_seal(
            b"another secret",
            b"{\"request_id\":\"r1\"}",
            &s
        ));
        assert!(!check_seal(SECRET, b"{\"request_id\":\"r1\"}", "not hex"));
        assert!(!check_seal(SECRET, b"{\"request_id\":\"r1\"}", ""));
        // Neither stands for the other: Slack's v0 signature of a body is not its seal.
        let v0 = sign(SECRET, TS, BODY);
        assert!(!check_seal(SECRET, format!("{TS}:").as_bytes(), &v0[3..]));
        assert_ne!(seal(SECRET, BODY), v0[3..]);
    }
}
