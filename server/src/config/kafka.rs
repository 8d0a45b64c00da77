//! How the relay connects to Kafka: TLS, SASL, and any librdkafka property.
//!
//! The flags become one list of librdkafka properties ([`KafkaClient::properties`]),
//! which every client the relay creates (reader, lag probe, producer, admin,
//! checkpoint reader and writer) starts from. Secrets are kept in
//! [`Secret`]s and in properties [`is_secret`] names: neither is ever
//! printed, by `Debug` or by the relay's log.

use std::fmt;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Kafka connection flags (`relay --help`, "Kafka connection").
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Kafka connection")]
pub struct KafkaClient {
    /// How to talk to the brokers. Unset: sasl-ssl when a SASL mechanism is
    /// given, ssl when a CA or client certificate is, else plaintext.
    #[arg(long, env = "KAFKA_SECURITY_PROTOCOL", value_enum)]
    pub kafka_security_protocol: Option<SecurityProtocol>,

    /// PEM file of the CAs that sign the brokers' certificates. Unset: the
    /// system's trust store (enough for MSK, Confluent Cloud and Aiven's
    /// public endpoints).
    #[arg(long, env = "KAFKA_CA_FILE")]
    pub kafka_ca_file: Option<PathBuf>,

    /// PEM client certificate, for brokers that authenticate clients by TLS
    /// (with --kafka-key-file).
    #[arg(long, env = "KAFKA_CERT_FILE")]
    pub kafka_cert_file: Option<PathBuf>,

    /// PEM private key of --kafka-cert-file.
    #[arg(long, env = "KAFKA_KEY_FILE")]
    pub kafka_key_file: Option<PathBuf>,

    /// Password of --kafka-key-file, if it is encrypted.
    #[arg(long, env = "KAFKA_KEY_PASSWORD", hide_env_values = true)]
    pub kafka_key_password: Option<Secret>,

    /// SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with
    /// --kafka-sasl-username and --kafka-sasl-password).
    #[arg(long, env = "KAFKA_SASL_MECHANISM", value_enum)]
    pub kafka_sasl_mechanism: Option<SaslMechanism>,

    /// SASL user name (an API key on Confluent Cloud).
    #[arg(long, env = "KAFKA_SASL_USERNAME")]
    pub kafka_sasl_username: Option<String>,

    /// SASL password (an API secret on Confluent Cloud). Never logged.
    #[arg(long, env = "KAFKA_SASL_PASSWORD", hide_env_values = true)]
    pub kafka_sasl_password: Option<Secret>,

    /// Any librdkafka property, as key=value; repeatable, applied after the
    /// flags above. The environment form is KAFKA_CONFIG_<KEY>, the key in
    /// capitals with `.` as `_` (and `_` as `__`):
    /// KAFKA_CONFIG_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM=none. Values of
    /// keys that name a password, secret or key are never logged.
    #[arg(long = "kafka-config", value_name = "KEY=VALUE", value_parser = property)]
    pub kafka_config: Vec<Property>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "plaintext",
            SecurityProtocol::Ssl => "ssl",
            SecurityProtocol::SaslPlaintext => "sasl_plaintext",
            SecurityProtocol::SaslSsl => "sasl_ssl",
        }
    }

    fn has_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SaslMechanism {
    #[value(name = "PLAIN", alias = "plain")]
    Plain,
    #[value(name = "SCRAM-SHA-256", alias = "scram-sha-256")]
    ScramSha256,
    #[value(name = "SCRAM-SHA-512", alias = "scram-sha-512")]
    ScramSha512,
}

impl SaslMechanism {
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// A value that must never be printed: `Debug` shows `"[redacted]"`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Secret, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// One librdkafka property from `--kafka-config` or `KAFKA_CONFIG_*`.
#[derive(Clone, PartialEq, Eq)]
pub struct Property {
    pub key: String,
    pub value: String,
}

impl fmt::Debug for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_secret(&self.key) {
            write!(f, "{}=[redacted]", self.key)
        } else {
            write!(f, "{}={}", self.key, self.value)
        }
    }
}

/// Whether a property's value is a secret (never logged).
pub fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "key",
        "jaas",
        "token",
        "sasl.oauthbearer.config",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// Properties the relay owns: setting them by `--kafka-config` would break
/// it, so they are refused with the flag to use instead.
const OWNED: [(&str, &str); 3] = [
    ("bootstrap.servers", "--kafka-brokers"),
    ("group.id", "--kafka-group-id"),
    (
        "enable.auto.commit",
        "nothing: the relay commits its positions itself",
    ),
];

fn property(text: &str) -> Result<Property, String> {
    let Some((key, value)) = text.split_once('=') else {
        return Err(format!(
            "`{text}` is not key=value (say --kafka-config socket.keepalive.enable=true)"
        ));
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("`{text}` has no key before `=`"));
    }
    if let Some((_, instead)) = OWNED.iter().find(|(owned, _)| *owned == key) {
        return Err(format!("{key} is the relay's own: use {instead}"));
    }
    Ok(Property {
        key: key.to_owned(),
        value: value.to_owned(),
    })
}

/// The `KAFKA_CONFIG_*` variables among `vars`, as properties: the name
/// after the prefix in lower case, `_` read as `.` and `__` as `_`.
pub fn properties_from_env(
    vars: impl Iterator<Item = (String, String)>,
) -> Result<Vec<Property>, String> {
    let mut found = Vec::new();
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix("KAFKA_CONFIG_") else {
            continue;
        };
        let key = rest
            .to_ascii_lowercase()
            .split("__")
            .map(|part| part.replace('_', "."))
            .collect::<Vec<_>>()
            .join("_");
        found.push(property(&format!("{key}={value}")).map_err(|e| format!("{name}: {e}"))?);
    }
    found.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(found)
}

/// A connection setting that cannot work, said in one line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KafkaSettingError {
    #[error("--kafka-sasl-mechanism {0} needs --kafka-sasl-username and --kafka-sasl-password (KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD)")]
    SaslWithoutCredentials(&'static str),
    #[error("--kafka-sasl-username and --kafka-sasl-password need --kafka-sasl-mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")]
    CredentialsWithoutMechanism,
    #[error("--kafka-security-protocol {0} has no SASL, but a SASL mechanism is set: say sasl-ssl (or sasl-plaintext)")]
    SaslOnPlainProtocol(&'static str),
    #[error("--kafka-security-protocol {0} has no TLS, but a CA, certificate or key file is set: say ssl or sasl-ssl")]
    TlsFilesOnPlainProtocol(&'static str),
    #[error("--kafka-cert-file and --kafka-key-file go together: give both or neither")]
    CertWithoutKey,
    #[error("cannot read --{flag} {path}: {reason}")]
    Unreadable {
        flag: &'static str,
        path: String,
        reason: String,
    },
}

impl KafkaClient {
    /// Adds the `KAFKA_CONFIG_*` variables of `vars` before the
    /// `--kafka-config` flags (a flag wins over a variable).
    pub fn add_environment(
        &mut self,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<(), String> {
        let mut all = properties_from_env(vars)?;
        all.append(&mut self.kafka_config);
        self.kafka_config = all;
        Ok(())
    }

    /// The security protocol, said or implied by the other flags.
    pub fn protocol(&self) -> SecurityProtocol {
        self.kafka_security_protocol.unwrap_or(
            match (self.kafka_sasl_mechanism.is_some(), self.has_tls_files()) {
                (true, _) => SecurityProtocol::SaslSsl,
                (false, true) => SecurityProtocol::Ssl,
                (false, false) => SecurityProtocol::Plaintext,
            },
        )
    }

    fn has_tls_files(&self) -> bool {
        self.kafka_ca_file.is_some()
            || self.kafka_cert_file.is_some()
            || self.kafka_key_file.is_some()
    }

    /// Checks that the flags agree with each other and that the files can be
    /// read (a missing CA file would otherwise surface as a TLS failure).
    pub fn validate(&self) -> Result<(), KafkaSettingError> {
        let protocol = self.protocol();
        let credentials = self.kafka_sasl_username.is_some() || self.kafka_sasl_password.is_some();
        match self.kafka_sasl_mechanism {
            Some(mechanism) if !protocol.has_sasl() => {
                let _ = mechanism;
                return Err(KafkaSettingError::SaslOnPlainProtocol(protocol.name()));
            }
            Some(mechanism)
                if self.kafka_sasl_username.is_none() || self.kafka_sasl_password.is_none() =>
            {
                return Err(KafkaSettingError::SaslWithoutCredentials(mechanism.name()));
            }
            None if credentials => return Err(KafkaSettingError::CredentialsWithoutMechanism),
            _ => {}
        }
        let tls = matches!(protocol, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl);
        if self.has_tls_files() && !tls {
            return Err(KafkaSettingError::TlsFilesOnPlainProtocol(protocol.name()));
        }
        if self.kafka_cert_file.is_some() != self.kafka_key_file.is_some() {
            return Err(KafkaSettingError::CertWithoutKey);
        }
        for (flag, path) in [
            ("kafka-ca-file", &self.kafka_ca_file),
            ("kafka-cert-file", &self.kafka_cert_file),
            ("kafka-key-file", &self.kafka_key_file),
        ] {
            if let Some(path) = path {
                if let Err(e) = std::fs::File::open(path) {
                    return Err(KafkaSettingError::Unreadable {
                        flag,
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The librdkafka properties of these flags, `--kafka-config` last (so
    /// it can change anything the flags set).
    pub fn properties(&self) -> Vec<Property> {
        let mut properties = vec![prop("security.protocol", self.protocol().name())];
        let files = [
            ("ssl.ca.location", &self.kafka_ca_file),
            ("ssl.certificate.location", &self.kafka_cert_file),
            ("ssl.key.location", &self.kafka_key_file),
        ];
        for (key, path) in files {
            if let Some(path) = path {
                properties.push(prop(key, &path.display().to_string()));
            }
        }
        if let Some(password) = &self.kafka_key_password {
            properties.push(prop("ssl.key.password", password.expose()));
        }
        if let Some(mechanism) = self.kafka_sasl_mechanism {
            properties.push(prop("sasl.mechanism", mechanism.name()));
        }
        if let Some(user) = &self.kafka_sasl_username {
            properties.push(prop("sasl.username", user));
        }
        if let Some(password) = &self.kafka_sasl_password {
            properties.push(prop("sasl.password", password.expose()));
        }
        properties.extend(self.kafka_config.iter().cloned());
        properties
    }

    /// One line for the start-up log: the protocol, the mechanism and user,
    /// the files, and the names of extra properties (no secret).
    pub fn describe(&self) -> String {
        let mut text = self.protocol().name().to_owned();
        if let (Some(mechanism), Some(user)) =
            (self.kafka_sasl_mechanism, &self.kafka_sasl_username)
        {
            text += &format!(", SASL {} as {user:?}", mechanism.name());
        }
        if let Some(ca) = &self.kafka_ca_file {
            text += &format!(", CA {}", ca.display());
        }
        if let Some(cert) = &self.kafka_cert_file {
            text += &format!(", client certificate {}", cert.display());
        }
        if !self.kafka_config.is_empty() {
            let extra: Vec<String> = self.kafka_config.iter().map(|p| format!("{p:?}")).collect();
            text += &format!(", {}", extra.join(", "));
        }
        text
    }
}

fn prop(key: &str, value: &str) -> Property {
    Property {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<KafkaClient, String> {
        let mut all = vec!["relay"];
        all.extend_from_slice(args);
        let config = Config::try_parse_from(all).map_err(|e| e.to_string())?;
        config.kafka.validate().map_err(|e| e.to_string())?;
        Ok(config.kafka)
    }

    fn value(properties: &[Property], key: &str) -> Option<String> {
        properties
            .iter()
            .rev()
            .find(|p| p.key == key)
            .map(|p| p.value.clone())
    }

    #[test]
    fn no_flags_is_plaintext_with_no_other_property() {
        let kafka = parse(&[]).unwrap();
        assert_eq!(
            kafka.properties(),
            vec![prop("security.protocol", "plaintext")]
        );
    }

    #[test]
    fn sasl_implies_sasl_ssl_and_sets_the_credentials() {
        let kafka = parse(&[
            "--kafka-sasl-mechanism",
            "SCRAM-SHA-512",
            "--kafka-sasl-username",
            "relay",
            "--kafka-sasl-password",
            "s3cret-pa55",
        ])
        .unwrap();
        let properties = kafka.properties();
        assert_eq!(value(&properties, "security.protocol").unwrap(), "sasl_ssl");
        assert_eq!(
            value(&properties, "sasl.mechanism").unwrap(),
            "SCRAM-SHA-512"
        );
        assert_eq!(value(&properties, "sasl.password").unwrap(), "s3cret-pa55");
        for shown in [
            format!("{kafka:?}"),
            format!("{properties:?}"),
            kafka.describe(),
        ] {
            assert!(
                !shown.contains("s3cret-pa55"),
                "the password is shown: {shown}"
            );
        }
        assert!(kafka.describe().contains("SCRAM-SHA-512 as \"relay\""));
    }

    #[test]
    fn a_ca_file_implies_ssl_and_must_be_readable() {
        let err = parse(&["--kafka-ca-file", "/nonexistent/ca.pem"]).unwrap_err();
        assert!(
            err.starts_with("cannot read --kafka-ca-file /nonexistent/ca.pem"),
            "{err}"
        );
        let kafka = parse(&["--kafka-ca-file", "/dev/null"]).unwrap();
        assert_eq!(kafka.protocol(), SecurityProtocol::Ssl);
        assert_eq!(
            value(&kafka.properties(), "ssl.ca.location").unwrap(),
            "/dev/null"
        );
    }

    #[test]
    fn flags_that_contradict_each_other_are_refused() {
        for (args, expected) in [
            (
                vec!["--kafka-sasl-mechanism", "PLAIN"],
                "needs --kafka-sasl-username",
            ),
            (
                vec!["--kafka-sasl-username", "relay"],
                "need --kafka-sasl-mechanism",
            ),
            (
                vec![
                    "--kafka-security-protocol",
                    "ssl",
                    "--kafka-sasl-mechanism",
                    "PLAIN",
                ],
                "has no SASL",
            ),
            (
                vec![
                    "--kafka-security-protocol",
                    "plaintext",
                    "--kafka-ca-file",
                    "/dev/null",
                ],
                "has no TLS",
            ),
            (vec!["--kafka-cert-file", "/dev/null"], "go together"),
            (vec!["--kafka-config", "linger.ms"], "is not key=value"),
            (vec!["--kafka-config", "=5"], "has no key"),
            (
                vec!["--kafka-config", "bootstrap.servers=x:9092"],
                "use --kafka-brokers",
            ),
            (vec!["--kafka-config", "group.id=x"], "use --kafka-group-id"),
        ] {
            let err = parse(&args).unwrap_err();
            assert!(err.contains(expected), "{args:?}: {err}");
        }
    }

    #[test]
    fn kafka_config_comes_last_and_hides_secret_values() {
        let kafka = parse(&[
            "--kafka-ca-file",
            "/dev/null",
            "--kafka-config",
            "security.protocol=sasl_ssl",
            "--kafka-config",
            "sasl.oauthbearer.client.secret=hush=hush",
        ])
        .unwrap();
        let properties = kafka.properties();
        assert_eq!(value(&properties, "security.protocol").unwrap(), "sasl_ssl");
        assert_eq!(
            value(&properties, "sasl.oauthbearer.client.secret").unwrap(),
            "hush=hush"
        );
        assert!(!kafka.describe().contains("hush"), "{}", kafka.describe());
        assert!(kafka
            .describe()
            .contains("sasl.oauthbearer.client.secret=[redacted]"));
    }

    #[test]
    fn kafka_config_environment_names_map_to_properties() {
        let vars = [
            ("KAFKA_CONFIG_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", "none"),
            ("KAFKA_CONFIG_SOME__ODD_NAME", "1"),
            ("KAFKA_BROKERS", "ignored:9092"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let found = properties_from_env(vars.into_iter()).unwrap();
        assert_eq!(
            found,
            vec![
                prop("some_odd.name", "1"),
                prop("ssl.endpoint.identification.algorithm", "none")
            ]
        );
        let refused =
            properties_from_env([("KAFKA_CONFIG_GROUP_ID".to_owned(), "x".to_owned())].into_iter())
                .unwrap_err();
        assert!(
            refused.starts_with("KAFKA_CONFIG_GROUP_ID: group.id is the relay's own"),
            "{refused}"
        );
    }
}
