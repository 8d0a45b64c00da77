//! The closed set of error codes: the `code` of every `error` frame and of
//! every non-2xx HTTP body (§3.5 and §4.3 of docs/PROTOCOL.md), and the
//! labels of the relay's error metrics. A client matches on these, never on
//! HTTP status numbers or message texts.

/// A stable, machine-readable error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The body or frame is not JSON (or not a JSON object with `event`).
    BadJson,
    /// A frame names an event the relay does not know.
    UnknownEvent,
    /// Well-formed JSON of the wrong shape or with values out of range.
    InvalidData,
    /// A frame or body over its size limit.
    TooLarge,
    /// No token was sent.
    MissingToken,
    /// The token is malformed, wrongly signed or lacks `sub`/`exp`.
    InvalidToken,
    /// The token's `exp` has passed: sign in again.
    TokenExpired,
    /// Authenticated, but not allowed to do this.
    Forbidden,
    /// The connection sends frames faster than allowed; the frame was
    /// dropped.
    RateLimited,
    /// The user (429) or the relay (503) holds as many connections as
    /// allowed: back off and retry.
    TooManyConnections,
    NotFound,
    MethodNotAllowed,
    UnsupportedMediaType,
    /// The command does not fit the order's current status.
    Conflict,
    /// The relay is still catching up with Kafka: retry shortly.
    NotReady,
    /// The broker did not acknowledge in time: the outcome is unknown and
    /// the same request may be retried.
    BrokerUnavailable,
    /// An `Idempotency-Key` already used for another cart.
    IdempotencyKeyReused,
    /// An `Idempotency-Key` that is empty, too long or not printable ASCII.
    InvalidIdempotencyKey,
    /// The relay is draining before it stops (SIGTERM): it takes no new
    /// WebSocket; connect again, through the load balancer, to another relay.
    Draining,
}

impl ErrorCode {
    /// Every code, in a fixed order (metrics list them in this order).
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::BadJson,
        ErrorCode::UnknownEvent,
        ErrorCode::InvalidData,
        ErrorCode::TooLarge,
        ErrorCode::MissingToken,
        ErrorCode::InvalidToken,
        ErrorCode::TokenExpired,
        ErrorCode::Forbidden,
        ErrorCode::RateLimited,
        ErrorCode::TooManyConnections,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::Conflict,
        ErrorCode::NotReady,
        ErrorCode::BrokerUnavailable,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::InvalidIdempotencyKey,
        ErrorCode::Draining,
    ];

    /// The code as it travels.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadJson => "bad_json",
            ErrorCode::UnknownEvent => "unknown_event",
            ErrorCode::InvalidData => "invalid_data",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::MissingToken => "missing_token",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooManyConnections => "too_many_connections",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::Conflict => "conflict",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::BrokerUnavailable => "broker_unavailable",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::InvalidIdempotencyKey => "invalid_idempotency_key",
            ErrorCode::Draining => "draining",
        }
    }

    /// Reads a code; `None` for one this build does not know (a newer
    /// relay's).
    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// The HTTP status an answer with this code carries. (Too many
    /// connections is 429 for one user's limit, 503 for the relay's.)
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadJson | ErrorCode::UnknownEvent | ErrorCode::InvalidIdempotencyKey => 400,
            ErrorCode::MissingToken | ErrorCode::InvalidToken | ErrorCode::TokenExpired => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict => 409,
            ErrorCode::TooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::InvalidData | ErrorCode::IdempotencyKeyReused => 422,
            ErrorCode::RateLimited | ErrorCode::TooManyConnections => 429,
            ErrorCode::NotReady | ErrorCode::BrokerUnavailable | ErrorCode::Draining => 503,
        }
    }

    /// Whether the same request may succeed if sent again later, unchanged.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::NotReady
                | ErrorCode::BrokerUnavailable
                | ErrorCode::RateLimited
                | ErrorCode::TooManyConnections
                | ErrorCode::Draining
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_and_is_distinct() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        assert_eq!(ErrorCode::parse("teapot"), None);
    }

    #[test]
    fn a_draining_relay_answers_503_and_the_request_may_go_elsewhere() {
        assert_eq!(ErrorCode::parse("draining"), Some(ErrorCode::Draining));
        assert_eq!(ErrorCode::Draining.http_status(), 503);
        assert!(ErrorCode::Draining.is_retryable());
    }
}
