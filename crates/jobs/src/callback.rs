//! Callbacks: where the service may POST a finished job, and the signature
//! that lets the receiver check the body came from this service.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use url::{Host, Url};

use crate::JobError;

/// `sha256=<hex HMAC-SHA256 of the body>` under `--webhook-secret`, as
/// GitHub's webhooks sign theirs.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// The signature header's value for `body`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// The hosts callbacks may reach (`--callback-hosts`). Empty: callbacks
/// are off, so the service cannot be made to call arbitrary addresses.
#[derive(Debug, Clone, Default)]
pub struct CallbackPolicy {
    /// `host` (any port) or `host:port`, lower case.
    hosts: Vec<String>,
}

impl CallbackPolicy {
    pub fn new<S: AsRef<str>>(hosts: &[S]) -> Self {
        let hosts = hosts.iter().map(|h| h.as_ref().trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect();
        Self { hosts }
    }

    pub fn enabled(&self) -> bool {
        !self.hosts.is_empty()
    }

    /// `url` if a job may be called back there: http(s), no credentials,
    /// and a host (with its port, when the entry names one) on the list.
    pub fn check(&self, url: &str) -> Result<Url, JobError> {
        let refuse = |why: String| Err(JobError::CallbackRefused(why));
        if !self.enabled() {
            return refuse("callbacks are off on this service (no --callback-hosts)".into());
        }
        let Ok(parsed) = Url::parse(url) else {
            return refuse("callback_url is not a valid URL".into());
        };
        if !matches!(parsed.scheme(), "http" | "https") {
            return refuse("callback_url must be http or https".into());
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return refuse("callback_url must not carry credentials".into());
        }
        let host = match parsed.host() {
            Some(Host::Domain(d)) => d.to_ascii_lowercase(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => format!("[{ip}]"),
            None => return refuse("callback_url has no host".into()),
        };
        let port = parsed.port_or_known_default().unwrap_or(0);
        let with_port = format!("{host}:{port}");
        if self.hosts.iter().any(|allowed| *allowed == host || *allowed == with_port) {
            Ok(parsed)
        } else {
            refuse(format!("callback host {with_port} is not on --callback-hosts"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_hmac() {
        // RFC 4231, test case 2.
        let signed = sign(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(signed, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn only_listed_hosts_and_ports_are_called_back() {
        let policy = CallbackPolicy::new(&["erp.example.com", "127.0.0.1:9000", "[::1]:80"]);
        assert!(policy.check("https://erp.example.com/hook").is_ok());
        assert!(policy.check("http://ERP.example.com:8080/hook").is_ok());
        assert!(policy.check("http://127.0.0.1:9000/done").is_ok());
        assert!(policy.check("http://[::1]/done").is_ok());
        for refused in [
            "http://127.0.0.1:9001/done",
            "http://169.254.169.254/latest/meta-data",
            "http://erp.example.com.evil.net/",
            "ftp://erp.example.com/",
            "https://user:pw@erp.example.com/",
            "not a url",
        ] {
            assert!(matches!(policy.check(refused), Err(JobError::CallbackRefused(_))), "{refused}");
        }
    }

    #[test]
    fn no_hosts_means_callbacks_off() {
        let err = CallbackPolicy::new::<&str>(&[]).check("http://127.0.0.1/").unwrap_err();
        assert!(err.to_string().contains("callbacks are off"));
    }
}
