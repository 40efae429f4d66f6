//! Who may call the inference routes (the probes stay open, and `/metrics`
//! unless `--protect-metrics`): an IP
//! allow-list (403), API keys (401) and a per-client rate limit (429), in
//! that order. Each is off until configured.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use std::sync::Arc;

use anyhow::Context;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::config::AccessArgs;

pub struct AccessPolicy {
    /// Empty: every address may call.
    allowed: Vec<Cidr>,
    /// Empty: no key needed.
    keys: Vec<String>,
    limiter: Option<RateLimiter>,
    /// `/metrics` is guarded too (`--protect-metrics`).
    pub protect_metrics: bool,
}

impl AccessPolicy {
    pub fn from_args(args: &AccessArgs) -> anyhow::Result<Self> {
        let allowed = args.allow_ips.iter().map(|s| s.parse()).collect::<Result<Vec<Cidr>, String>>();
        let allowed = allowed.map_err(anyhow::Error::msg).context("--allow-ips")?;
        let mut keys: Vec<String> = args.api_keys.iter().map(|k| k.trim().to_owned()).collect();
        if let Some(path) = &args.api_keys_file {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            keys.extend(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from));
        }
        keys.retain(|k| !k.is_empty());
        let limiter = (args.rate_limit > 0).then(|| RateLimiter::new(args.rate_limit, args.rate_burst));
        Ok(Self { allowed, keys, limiter, protect_metrics: args.protect_metrics })
    }

    /// No restriction (the `worker` command, which serves no requests).
    pub fn open() -> Self {
        Self { allowed: Vec::new(), keys: Vec::new(), limiter: None, protect_metrics: false }
    }

    /// Whose a job is: a fingerprint of the request's API key (never the
    /// key itself), or empty when the service runs without keys. Call on
    /// requests the guard let through.
    pub fn owner(&self, headers: &HeaderMap) -> String {
        use sha2::{Digest, Sha256};
        match presented_key(headers) {
            Some(key) if !self.keys.is_empty() => {
                Sha256::digest(key.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect()
            }
            _ => String::new(),
        }
    }

    /// A line for the start-up log; never the keys themselves.
    pub fn describe(&self) -> String {
        let ips = if self.allowed.is_empty() { "any".to_owned() } else { format!("{} CIDRs", self.allowed.len()) };
        let keys = if self.keys.is_empty() { "off".to_owned() } else { format!("{} keys", self.keys.len()) };
        let rate = self.limiter.as_ref().map_or("off".to_owned(), |l| format!("{}/min", l.per_minute));
        let metrics = if self.protect_metrics { "guarded" } else { "open" };
        format!("access control: client IPs {ips}, API keys {keys}, rate limit {rate}, /metrics {metrics}")
    }

    pub fn check(&self, peer: IpAddr, headers: &HeaderMap) -> Result<(), ApiError> {
        let peer = canonical(peer);
        if !self.allowed.is_empty() && !self.allowed.iter().any(|c| c.contains(peer)) {
            return Err(ApiError::Forbidden);
        }
        let client = if self.keys.is_empty() {
            peer.to_string()
        } else {
            let presented = presented_key(headers).ok_or(ApiError::Unauthorized)?;
            // Every key is compared in full, so timing tells nothing.
            let matched = self.keys.iter().enumerate().fold(None, |found, (i, key)| {
                if constant_time_eq(key.as_bytes(), presented.as_bytes()) { Some(i) } else { found }
            });
            format!("key-{}", matched.ok_or(ApiError::Unauthorized)?)
        };
        match &self.limiter {
            Some(limiter) => limiter.admit(&client, Instant::now()),
            None => Ok(()),
        }
    }
}

/// Middleware: the request runs only when `policy` lets it through; a
/// refusal leaves in the error shape `E` of the routes it guards (the
/// service's contract, or the KServe protocols'). One guard for every
/// surface: the service's routes, the KServe routes, the gateway's.
pub async fn guard<E: From<ApiError> + IntoResponse>(
    State(policy): State<Arc<AccessPolicy>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Result<Response, E> {
    policy.check(peer.ip(), request.headers())?;
    Ok(next.run(request).await)
}

/// `Authorization: Bearer <key>` or `X-API-Key: <key>`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get("x-api-key") {
        return value.to_str().ok().map(str::trim);
    }
    let auth = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = auth.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let folded = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    folded == 0 && a.len() == b.len()
}

/// IPv4 clients on a dual-stack socket arrive as `::ffff:a.b.c.d`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// An address block such as `10.0.0.0/8`, `192.168.1.20` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                same_prefix(u32::from(net).into(), u32::from(ip).into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => same_prefix(u128::from(net), u128::from(ip), 128, self.prefix),
            _ => false,
        }
    }
}

fn same_prefix(a: u128, b: u128, bits: u8, prefix: u8) -> bool {
    let shift = bits - prefix;
    shift >= bits || (a >> shift) == (b >> shift)
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (addr, prefix) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let network: IpAddr = addr.parse().map_err(|_| format!("`{s}` is not an IP address or CIDR block"))?;
        let network = canonical(network);
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => {
                p.parse::<u8>().ok().filter(|&p| p <= bits).ok_or_else(|| format!("bad prefix length in `{s}`"))?
            }
        };
        Ok(Self { network, prefix })
    }
}

/// Token buckets per client: `per_minute` requests a minute on average, up
/// to `burst` at once.
struct RateLimiter {
    per_minute: u32,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Above this many clients, full buckets (equal to no entry) are dropped.
const MAX_TRACKED_CLIENTS: usize = 10_000;

impl RateLimiter {
    fn new(per_minute: u32, burst: u32) -> Self {
        let burst = if burst == 0 { per_minute } else { burst };
        Self { per_minute, burst: f64::from(burst.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    fn admit(&self, client: &str, now: Instant) -> Result<(), ApiError> {
        let rate = f64::from(self.per_minute) / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > MAX_TRACKED_CLIENTS {
            let burst = self.burst;
            buckets.retain(|_, b| b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < burst);
        }
        let bucket = buckets.entry(client.to_owned()).or_insert(Bucket { tokens: self.burst, updated: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * rate).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(ApiError::RateLimited(((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn cidr_blocks_match_their_addresses_only() {
        let net: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        let host: Cidr = "192.168.1.20".parse().unwrap();
        assert!(host.contains("192.168.1.20".parse().unwrap()));
        assert!(!host.contains("192.168.1.21".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("odoo.local".parse::<Cidr>().is_err());
    }

    #[test]
    fn mapped_ipv4_clients_match_ipv4_blocks() {
        let net: Cidr = "127.0.0.0/8".parse().unwrap();
        assert!(net.contains(canonical("::ffff:127.0.0.1".parse().unwrap())));
    }

    #[test]
    fn keys_come_as_bearer_or_x_api_key() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer  s3cret "));
        assert_eq!(presented_key(&headers), Some("s3cret"));
        headers.insert("x-api-key", HeaderValue::from_static("other"));
        assert_eq!(presented_key(&headers), Some("other"));
        let mut basic = HeaderMap::new();
        basic.insert("authorization", HeaderValue::from_static("Basic dXNlcjpwYXNz"));
        assert_eq!(presented_key(&basic), None);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn rate_limiter_allows_the_burst_then_refills() {
        let limiter = RateLimiter::new(60, 2);
        let t0 = Instant::now();
        assert!(limiter.admit("a", t0).is_ok());
        assert!(limiter.admit("a", t0).is_ok());
        assert_eq!(limiter.admit("a", t0), Err(ApiError::RateLimited(1)));
        // Another client has its own bucket.
        assert!(limiter.admit("b", t0).is_ok());
        // One token a second comes back.
        assert!(limiter.admit("a", t0 + Duration::from_millis(1000)).is_ok());
        assert!(limiter.admit("a", t0 + Duration::from_millis(1100)).is_err());
    }
}
