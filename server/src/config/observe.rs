//! What the relay tells its operator, and about whom: the log format, the
//! summary interval, and which proxies may name the client's address.

use std::net::IpAddr;

use clap::{Args, ValueEnum};
use ipnet::IpNet;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event (colours on a terminal).
    Text,
    /// One JSON object per line (tracing-subscriber's JSON: `timestamp`,
    /// `level`, `target`, `fields`, `spans`), for a log shipper.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct Observability {
    /// Log line format: `text` or `json`. Levels: `RUST_LOG` (default
    /// `info,rdkafka=warn`; per-event and per-socket lines are `debug`).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Seconds between the `info` summary lines (events read and delivered,
    /// sockets opened and closed, in the interval). 0: no summary.
    #[arg(long, env = "LOG_SUMMARY_SECS", default_value_t = 60)]
    pub log_summary_secs: u64,

    /// Proxies (addresses or CIDR blocks, comma-separated) whose
    /// `X-Forwarded-For` names the client in logs. From any other peer the
    /// header is ignored: anyone can send it.
    #[arg(
        long = "trusted-proxy",
        env = "TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_proxy
    )]
    pub trusted_proxies: Vec<IpNet>,
}

/// An address (`10.0.0.5`, one host) or a block (`10.0.0.0/8`).
fn parse_proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is neither an IP address nor a CIDR block (10.0.0.0/8)"))
}

impl Observability {
    /// The client's address for logs: the peer's, or, when the peer is a
    /// trusted proxy, the last address in `X-Forwarded-For` that is not one
    /// of the trusted proxies (each proxy appends the address it saw, so
    /// the entries left of it are the client's to forge).
    pub fn client_addr(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        let trusted = |ip: &IpAddr| self.trusted_proxies.iter().any(|net| net.contains(ip));
        if !trusted(&peer) {
            return peer;
        }
        let Some(header) = forwarded_for else {
            return peer;
        };
        let mut last = peer;
        for entry in header.rsplit(',') {
            match entry.trim().parse::<IpAddr>() {
                Ok(ip) if trusted(&ip) => last = ip,
                Ok(ip) => return ip,
                // Garbage: stop at the last address a trusted proxy vouched for.
                Err(_) => return last,
            }
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(proxies: &[&str]) -> Observability {
        Observability {
            log_format: LogFormat::Text,
            log_summary_secs: 60,
            trusted_proxies: proxies.iter().map(|p| parse_proxy(p).unwrap()).collect(),
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let none = settings(&[]);
        assert_eq!(
            none.client_addr(ip("10.0.0.5"), Some("1.2.3.4")),
            ip("10.0.0.5")
        );
        let proxy = settings(&["10.0.0.0/8"]);
        assert_eq!(
            proxy.client_addr(ip("192.0.2.9"), Some("1.2.3.4")),
            ip("192.0.2.9")
        );
        assert_eq!(
            proxy.client_addr(ip("10.0.0.5"), Some("1.2.3.4")),
            ip("1.2.3.4")
        );
        assert_eq!(proxy.client_addr(ip("10.0.0.5"), None), ip("10.0.0.5"));
    }

    #[test]
    fn a_forged_entry_left_of_the_real_one_is_not_believed() {
        let proxy = settings(&["10.0.0.5", "10.0.1.0/24"]);
        // The client sent "6.6.6.6"; the first proxy appended the client's
        // real address, the second proxy the first one's.
        let header = "6.6.6.6, 198.51.100.7, 10.0.1.3";
        assert_eq!(
            proxy.client_addr(ip("10.0.0.5"), Some(header)),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn garbage_stops_at_the_last_trusted_hop() {
        let proxy = settings(&["10.0.0.5", "10.0.1.3"]);
        assert_eq!(
            proxy.client_addr(ip("10.0.0.5"), Some("not-an-ip, 10.0.1.3")),
            ip("10.0.1.3")
        );
        assert_eq!(
            proxy.client_addr(ip("10.0.0.5"), Some("2001:db8::1")),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn proxies_parse_as_hosts_or_blocks() {
        assert!(parse_proxy("10.0.0.1").is_ok());
        assert!(parse_proxy(" fd00::/8 ").is_ok());
        let err = parse_proxy("proxy.local").unwrap_err();
        assert!(
            err.contains("neither an IP address nor a CIDR block"),
            "{err}"
        );
    }
}
