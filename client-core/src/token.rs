//! What the client reads from its own token, and when to refresh it.
//!
//! Pure: no clock, no IO. The client never verifies a token (the relay
//! does); it only reads the payload's `exp` claim to know when to ask for
//! a fresh one (§3 of the contract: an expired connection is closed with
//! 4001 unless an `auth:refresh` with a valid token arrived before then).

use serde::Deserialize;

/// Refresh at the latest this long before the token expires.
pub const REFRESH_LEAD_MS: u64 = 60_000;

/// The claims the client reads.
#[derive(Deserialize)]
struct Claims {
    exp: Option<u64>,
    sub: Option<String>,
}

/// The `exp` claim (seconds since the epoch) of a JWT, or `None` when the
/// token is not a JWT or has no numeric `exp`.
pub fn jwt_exp(token: &str) -> Option<u64> {
    claims(token)?.exp
}

/// The `sub` claim (the user) of a JWT: whose tabs and cache a session
/// shares before the relay has said who it is.
pub fn jwt_sub(token: &str) -> Option<String> {
    claims(token)?.sub
}

/// Who signed a JWT, as far as the page can tell: its header as sent (the
/// algorithm and the key's `kid`; the relay names its secret there). The
/// offline cache is marked with it, so orders cached under another relay
/// secret or provider key are not shown as this session's. `""` for a token
/// that is not a JWT.
pub fn jwt_signer(token: &str) -> &str {
    match token.split_once('.') {
        Some((header, _)) => header,
        None => "",
    }
}

fn claims(token: &str) -> Option<Claims> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let json = base64url_decode(payload)?;
    // `from_str`, like every other decode in the client: one copy of the
    // parser in the bundle instead of two.
    let json = String::from_utf8(json).ok()?;
    serde_json::from_str::<Claims>(&json).ok()
}

/// How long to wait, from `now_ms`, before refreshing a token that expires
/// at `exp_secs`: [`REFRESH_LEAD_MS`] before it expires, or at 80% of its
/// remaining life when that leaves less than the lead (a short-lived token,
/// under 5 minutes left). The 80% mark keeps a short token from being
/// refreshed the moment it arrives, over and over. Never in the past: an
/// expired token is refreshed now (0).
pub fn refresh_delay_ms(exp_secs: u64, now_ms: u64) -> u64 {
    let remaining = exp_secs.saturating_mul(1000).saturating_sub(now_ms);
    let by_lead = remaining.saturating_sub(REFRESH_LEAD_MS);
    let by_share = remaining / 5 * 4;
    by_lead.max(by_share)
}

/// The value of one base64url character (RFC 4648 §5).
fn sextet(c: u8) -> Option<u32> {
    let value = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

/// Decodes unpadded (or `=`-padded) base64url, as JWT segments are.
/// `None` on any character outside the alphabet or an impossible length.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.trim_end_matches('=').as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut bits = 0u32;
        for &c in chunk {
            bits = (bits << 6) | sextet(c)?;
        }
        // A chunk of n characters holds n * 6 bits: n - 1 whole bytes.
        bits <<= 6 * (4 - chunk.len() as u32);
        let [_, a, b, c] = bits.to_be_bytes();
        out.extend_from_slice(&[a, b, c][..chunk.len() - 1]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// base64url without padding, for building tokens in tests.
    fn encode(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let mut bits = 0u32;
            for (i, &b) in chunk.iter().enumerate() {
                bits |= u32::from(b) << (16 - 8 * i);
            }
            for i in 0..=chunk.len() {
                out.push(char::from(ALPHABET[(bits >> (18 - 6 * i)) as usize & 63]));
            }
        }
        out
    }

    fn jwt(payload: &str) -> String {
        format!(
            "{}.{}.sig",
            encode(br#"{"alg":"HS256","typ":"JWT"}"#),
            encode(payload.as_bytes())
        )
    }

    #[test]
    fn base64url_round_trips_every_length() {
        let data: Vec<u8> = (0..=255u8).collect();
        for len in 0..40 {
            let slice = &data[200 - len..200];
            assert_eq!(base64url_decode(&encode(slice)).as_deref(), Some(slice));
        }
        assert_eq!(base64url_decode(&encode(&data)), Some(data));
    }

    #[test]
    fn base64url_rejects_what_is_not_base64url() {
        for bad in ["a", "ab+c", "ab/c", "a b", "abcde", "é"] {
            assert_eq!(base64url_decode(bad), None, "{bad}");
        }
        assert_eq!(base64url_decode("-_8"), Some(vec![0xfb, 0xff]));
        assert_eq!(base64url_decode("QQ=="), Some(b"A".to_vec()));
    }

    #[test]
    fn exp_is_read_from_the_payload() {
        let cases: &[(&str, Option<u64>)] = &[
            (
                r#"{"sub":"alice","role":"user","exp":1762943460}"#,
                Some(1_762_943_460),
            ),
            (r#"{"exp":0}"#, Some(0)),
            (r#"{"sub":"alice"}"#, None),
            (r#"{"exp":"soon"}"#, None),
            (r#"{"exp":-5}"#, None),
            (r#"{"exp":1.5}"#, None),
            ("not json", None),
        ];
        for (payload, exp) in cases {
            assert_eq!(jwt_exp(&jwt(payload)), *exp, "{payload}");
        }
    }

    #[test]
    fn sub_names_the_user_whose_tabs_and_cache_a_session_shares() {
        let token = jwt(r#"{"sub":"alice","role":"user","exp":1762943460}"#);
        assert_eq!(jwt_sub(&token).as_deref(), Some("alice"));
        assert_eq!(jwt_sub(&jwt(r#"{"exp":5}"#)), None);
        assert_eq!(jwt_sub("opaque"), None);
    }

    #[test]
    fn the_signer_is_the_header_as_sent() {
        let token = jwt(r#"{"sub":"alice"}"#);
        assert_eq!(jwt_signer(&token), token.split('.').next().unwrap());
        assert_eq!(jwt_signer("h.p.s"), "h");
        assert_eq!(jwt_signer("opaque"), "");
    }

    #[test]
    fn tokens_that_are_not_jwts_have_no_exp() {
        let payload = encode(br#"{"exp":5}"#);
        for token in [
            String::new(),
            "test-token".to_owned(),
            format!("h.{payload}"),
            format!("h.{payload}.s.extra"),
            "h.***.s".to_owned(),
        ] {
            assert_eq!(jwt_exp(&token), None, "{token}");
        }
        assert_eq!(jwt_exp(&format!("h.{payload}.s")), Some(5));
    }

    #[test]
    fn refresh_comes_a_minute_early_or_at_80_percent_of_a_short_life() {
        let now = 1_000_000_000_000; // ms
        let exp = |in_ms: u64| (now + in_ms) / 1000;
        let cases: &[(u64, u64, &str)] = &[
            (3_600_000, 3_540_000, "an hour left: a minute before"),
            (900_000, 840_000, "15 min left: a minute before"),
            (300_000, 240_000, "5 min: both say 4 min"),
            (120_000, 96_000, "2 min: at 80%"),
            (100_000, 80_000, "100 s: at 80%"),
            (60_000, 48_000, "a minute: at 80%"),
            (30_000, 24_000, "30 s: at 80%"),
            (0, 0, "expiring now: now"),
        ];
        for &(in_ms, delay, what) in cases {
            assert_eq!(refresh_delay_ms(exp(in_ms), now), delay, "{what}");
        }
    }

    #[test]
    fn refresh_is_never_in_the_past() {
        let now = 1_000_000_000_000;
        assert_eq!(refresh_delay_ms(now / 1000 - 10, now), 0);
        assert_eq!(refresh_delay_ms(0, now), 0);
        assert_eq!(
            refresh_delay_ms(u64::MAX, 0),
            u64::MAX - REFRESH_LEAD_MS / 1000 * 1000
        );
    }
}
