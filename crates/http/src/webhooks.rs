//! Webhook delivery (issue 28, `docs/events.md`): Standard Webhooks
//! signatures, the outbound address policy (no loopback, private,
//! link-local or metadata addresses unless allowed; checked when a URL is
//! set and again at every attempt, against DNS rebinding), and the
//! dispatcher: workers that lease one subscription at a time from the store
//! (PostgreSQL: `FOR UPDATE SKIP LOCKED`), deliver its log in order and
//! retry with exponential backoff and jitter.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{KeyInit, Mac};
use switchboard_domain::events::{Attempt, Claim, Delivery};
use switchboard_domain::store::traits::*;
use switchboard_domain::{Error, Rule};

/// How deliveries are made and retried (`serve --webhook-*`).
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Networks a webhook URL may resolve into despite the policy.
    pub allow_networks: Vec<Cidr>,
    /// Waits before the 2nd, 3rd, … attempt; the last repeats.
    pub retry_schedule: Vec<Duration>,
    /// A delivery failing this long after its first attempt is given up
    /// and its subscription disabled.
    pub give_up_after: Duration,
    /// Connect-and-answer time of one attempt.
    pub timeout: Duration,
    /// Bytes of a receiver's answer read at most.
    pub max_response_bytes: usize,
    /// Concurrent delivery workers of this instance.
    pub workers: usize,
    /// How long events and delivery log entries are kept (`None`: forever).
    pub event_retention: Option<Duration>,
    /// Whom `https://` receivers must prove to be (`tls_roots`).
    pub tls: std::sync::Arc<rustls::ClientConfig>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            allow_networks: Vec::new(),
            retry_schedule: parse_schedule("1s,5s,30s,2m,10m,1h").expect("the default schedule parses"),
            give_up_after: Duration::from_secs(24 * 60 * 60),
            timeout: Duration::from_secs(10),
            max_response_bytes: 64 * 1024,
            workers: 4,
            event_retention: Some(Duration::from_secs(30 * 24 * 60 * 60)),
            tls: system_tls(),
        }
    }
}

/// `tls_roots(None)`, loaded once per process.
fn system_tls() -> std::sync::Arc<rustls::ClientConfig> {
    static SYSTEM: std::sync::OnceLock<std::sync::Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    SYSTEM.get_or_init(|| tls_roots(None).expect("ring supports the default protocol versions")).clone()
}

/// The TLS client configuration of deliveries to `https://` URLs: the
/// system's trusted CAs (Mozilla's, from webpki-roots, where the system has
/// none), plus the PEM certificates of `ca_file` (`--webhook-ca-file`: a
/// private CA for receivers on allowed internal networks). HTTP/1.1.
pub fn tls_roots(ca_file: Option<&std::path::Path>) -> Result<std::sync::Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let system = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(system.certs);
    if added == 0 {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(path) = ca_file {
        let mut n = 0;
        for cert in rustls::pki_types::CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", path.display()))? {
            let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
            roots.add(cert).map_err(|e| format!("{}: {e}", path.display()))?;
            n += 1;
        }
        if n == 0 {
            return Err(format!("{}: no PEM certificate in it", path.display()));
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(std::sync::Arc::new(config))
}

impl WebhookConfig {
    /// How long a worker holds a subscription: an attempt fits twice.
    fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(5)
    }

    /// The wait after the `attempts`-th failed attempt, with ±20 % jitter.
    fn backoff(&self, attempts: i64) -> Duration {
        let i = usize::try_from(attempts.max(1) - 1).unwrap_or(usize::MAX).min(self.retry_schedule.len().saturating_sub(1));
        let base = self.retry_schedule.get(i).copied().unwrap_or(Duration::from_secs(3600));
        let jitter = 0.8 + 0.4 * rand::random::<f64>();
        base.mul_f64(jitter)
    }
}

/// `1s,5s,30s,2m,10m,1h` (units ms, s, m, h).
pub fn parse_schedule(s: &str) -> Result<Vec<Duration>, String> {
    let v: Result<Vec<Duration>, String> = s.split(',').map(|p| parse_duration(p.trim())).collect();
    let v = v?;
    if v.is_empty() {
        return Err("the retry schedule is empty".into());
    }
    Ok(v)
}

/// `100ms`, `5s`, `2m`, `1h`, `24h`, `30d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("{s:?} is not a duration like 500ms, 5s, 2m, 1h or 30d"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        "d" => Duration::from_secs(n * 86400),
        _ => return Err(format!("{s:?} is not a duration like 500ms, 5s, 2m, 1h or 30d")),
    })
}

/// A network in CIDR notation (`10.0.0.0/8`, `::1/128`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Cidr, String> {
        let bad = || format!("{s:?} is not a network like 10.0.0.0/8");
        let (a, b) = s.trim().split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let bits: u8 = b.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if bits > max {
            return Err(bad());
        }
        Ok(Cidr { addr, bits })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.bits == 0 { 0 } else { u32::MAX << (32 - u32::from(self.bits)) };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.bits == 0 { 0 } else { u128::MAX << (128 - u32::from(self.bits)) };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// `10.0.0.0/8,127.0.0.0/8`.
pub fn parse_networks(s: &str) -> Result<Vec<Cidr>, String> {
    s.split(',').filter(|p| !p.trim().is_empty()).map(str::parse).collect()
}

/// Addresses a webhook must not reach by default: loopback, private,
/// link-local (cloud metadata at 169.254.169.254 among them), shared,
/// unspecified, multicast, reserved and documentation ranges.
const DENIED: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/3",
    "::/128",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
    "2001:db8::/32",
];

/// Whether a webhook may be delivered to `ip` under `allow`.
pub fn address_allowed(ip: IpAddr, allow: &[Cidr]) -> bool {
    // An IPv4 address written as IPv6 is judged as itself.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    if allow.iter().any(|c| c.contains(ip)) {
        return true;
    }
    !DENIED.iter().any(|d| d.parse::<Cidr>().is_ok_and(|c| c.contains(ip)))
}

fn refused(why: &'static str) -> Error {
    Error::invalid("url", Rule::Format { expected: why })
}

/// Resolves a webhook URL's host and checks every address; the address to
/// connect to. Invalid-field errors (422) for URLs that cannot be used.
pub async fn resolve_target(url: &str, allow: &[Cidr]) -> Result<(String, SocketAddr), Error> {
    let u = reqwest::Url::parse(url).map_err(|_| refused("an http:// or https:// URL"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(refused("an http:// or https:// URL"));
    }
    let host = u.host_str().ok_or_else(|| refused("an http:// or https:// URL"))?.to_string();
    let port = u.port_or_known_default().unwrap_or(80);
    let bare = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => match tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((bare.as_str(), port))).await {
            Ok(Ok(a)) => a.collect(),
            _ => Vec::new(),
        },
    };
    let first = *addrs.first().ok_or_else(|| refused("a URL whose host name resolves"))?;
    if addrs.iter().any(|a| !address_allowed(a.ip(), allow)) {
        return Err(refused("a URL of a public address (not loopback, private, link-local or metadata)"));
    }
    Ok((bare, first))
}

/// A new Standard Webhooks secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The `webhook-signature` value of a message (Standard Webhooks: HMAC-SHA256
/// of `id.timestamp.body` under the secret's bytes).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap_or(secret)).unwrap_or_default();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Runs the configured number of delivery workers until the process ends.
pub fn spawn_dispatcher(state: crate::AppState) {
    for n in 0..state.config.webhooks.workers.max(1) {
        let owner = format!("{}-{}-{n}", std::process::id(), hex::encode(rand::random::<[u8; 6]>()));
        tokio::spawn(worker(state.clone(), owner));
    }
}

/// Deletes events and delivery log entries older than the retention, a
/// minute after the start and then hourly, in small transactions (every
/// instance does; the deletions do not conflict).
pub fn spawn_pruner(state: crate::AppState) {
    let Some(retention) = state.config.webhooks.event_retention else { return };
    let retention = millis(retention);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        loop {
            prune(&state, retention).await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
}

/// One pruning pass: batches until nothing is older than the retention.
pub async fn prune(state: &crate::AppState, retention: i64) -> u64 {
    let before = state.dir.now().saturating_sub(retention);
    let mut total = 0;
    loop {
        match state.dir.store().prune_events(before, 1000).await {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) => {
                tracing::warn!(error = %e, "pruning old events failed");
                break;
            }
        }
        // Room for the writes waiting on the writer between batches.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if total > 0 {
        tracing::info!(rows = total, "pruned events and delivery log entries past their retention");
    }
    total
}

async fn worker(state: crate::AppState, owner: String) {
    let config = &state.config.webhooks;
    let lease = millis(config.lease());
    let store = state.dir.store();
    loop {
        let now = state.dir.now();
        match store.claim_webhook(&owner, now, now + lease).await {
            Ok(Some(claim)) => work(store, &state.dir, config, claim).await,
            Ok(None) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => {
                tracing::warn!(error = %e, "webhook dispatcher: claim failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Deliveries read from the log at a time.
const BATCH: u32 = 500;

/// Attempts are recorded together, in one write transaction with the
/// log's refill and the lease's extension: at the end of a batch, or once
/// the oldest unrecorded one is this old.
const RECORD_EVERY: Duration = Duration::from_secs(1);

/// How long a worker keeps one subscription while it has work, before
/// giving the others their turn.
const HOLD: Duration = Duration::from_secs(30);

/// Delivers a claimed subscription's due log in order. The lease is
/// extended at each recording; an attempt starts only when it can end
/// within the lease.
async fn work(store: &dyn Store, clock: &switchboard_domain::Directory, config: &WebhookConfig, mut claim: Claim) {
    let started = Instant::now();
    let mut leased = Instant::now();
    let mut disable = None;
    // Resolved and checked now, at delivery time (the name may resolve
    // elsewhere than when the URL was set), and pinned: the client connects
    // to the address checked, for this claim's attempts (kept alive).
    let mut client = client_for(config, &claim.webhook.url).await;
    let mut client_url = claim.webhook.url.clone();
    let mut done: Vec<Attempt> = Vec::new();
    let mut oldest = Instant::now();
    'log: while started.elapsed() < HOLD {
        // Changed since the claim (each recording reads it anew): disabled
        // stops here; a new URL is resolved and checked again.
        if !claim.webhook.enabled {
            break;
        }
        if claim.webhook.url != client_url {
            client = client_for(config, &claim.webhook.url).await;
            client_url = claim.webhook.url.clone();
        }
        let batch = match store.next_deliveries(&claim, clock.now(), BATCH).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "webhook dispatcher: reading the log failed");
                break;
            }
        };
        if batch.is_empty() {
            // Caught up: unless the events written meanwhile add to the log.
            match record(store, clock, config, &mut claim, &mut done, &mut leased).await {
                Some(0) | None => break,
                Some(_) => continue,
            }
        }
        for (d, body) in batch {
            if leased.elapsed() + config.timeout + Duration::from_secs(2) >= config.lease()
                && record(store, clock, config, &mut claim, &mut done, &mut leased).await.is_none()
            {
                return;
            }
            let Some(body) = body else {
                // Pruned (--event-retention) before it could be delivered.
                done.push(Attempt {
                    delivery: d.id,
                    at: clock.now(),
                    status_code: None,
                    latency_ms: 0,
                    error: Some("the event expired (--event-retention) before it was delivered".into()),
                    delivered: false,
                    retry_at: None,
                });
                continue;
            };
            if done.is_empty() {
                oldest = Instant::now();
            }
            let attempt = attempt(config, &client, &claim, &d, &body, clock).await;
            let failed = !attempt.delivered;
            // Given up on a retryable failure: the time allowed ran out.
            if failed && attempt.retry_at.is_none() && retryable(attempt.status_code) {
                disable = Some(format!(
                    "disabled at {} after deliveries failed for {} s (last error: {})",
                    attempt.at,
                    config.give_up_after.as_secs(),
                    attempt.error.clone().unwrap_or_default()
                ));
            }
            done.push(attempt);
            if disable.is_some() || failed {
                break 'log; // a failed head waits for its retry: the log stays in order
            }
            if oldest.elapsed() >= RECORD_EVERY && record(store, clock, config, &mut claim, &mut done, &mut leased).await.is_none() {
                return;
            }
        }
        if record(store, clock, config, &mut claim, &mut done, &mut leased).await.is_none() {
            return;
        }
    }
    if !done.is_empty() && record(store, clock, config, &mut claim, &mut done, &mut leased).await.is_none() {
        return;
    }
    if let Err(e) = store.release_webhook(&claim, disable).await {
        tracing::warn!(error = %e, "webhook dispatcher: release failed");
    }
}

/// Records the attempts made since the last call, refills the log and
/// extends the lease (`leased`: when it was extended); how many deliveries
/// joined the log, `None` when the
/// lease was lost (another worker has the subscription: stop at once) or
/// the recording failed (stop too: the lease runs out, and the attempts not
/// recorded are made again, with the same `webhook-id`s: at least once).
async fn record(
    store: &dyn Store,
    clock: &switchboard_domain::Directory,
    config: &WebhookConfig,
    claim: &mut Claim,
    done: &mut Vec<Attempt>,
    leased: &mut Instant,
) -> Option<usize> {
    let now = clock.now();
    let lease_until = now.saturating_add(millis(config.lease()));
    let extended = Instant::now();
    let result = store.record_attempts(claim, done, now, lease_until).await;
    done.clear();
    match result {
        Ok(added) => {
            *leased = extended;
            added
        }
        Err(e) => {
            tracing::warn!(error = %e, "webhook dispatcher: recording attempts failed");
            None
        }
    }
}

/// A duration in the store's milliseconds (saturating).
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Whether a failed attempt is retried: timeouts and connection errors (no
/// status), 5xx, 408 and 429. Another 4xx is the receiver refusing this
/// event: given up at once.
fn retryable(code: Option<i64>) -> bool {
    code.is_none_or(|c| c >= 500 || c == 408 || c == 429)
}

/// One attempt: POST the event, signed; classify the answer.
async fn attempt(
    config: &WebhookConfig,
    client: &Result<reqwest::Client, String>,
    claim: &Claim,
    d: &Delivery,
    body: &str,
    clock: &switchboard_domain::Directory,
) -> Attempt {
    let at = clock.now();
    let started = Instant::now();
    let (code, error) = match post(config, client, claim, d, body, at).await {
        Ok(code) => (Some(i64::from(code)), if (200..300).contains(&code) { None } else { Some(format!("HTTP {code}")) }),
        Err(e) => (None, Some(e)),
    };
    let latency_ms = millis(started.elapsed());
    let delivered = error.is_none();
    let first = d.first_attempt_at.unwrap_or(at);
    let retry_at = if delivered || !retryable(code) {
        None
    } else {
        let wait = millis(config.backoff(d.attempts + 1));
        let give_up = millis(config.give_up_after);
        (at.saturating_sub(first) < give_up).then_some(at + wait)
    };
    Attempt { delivery: d.id, at, status_code: code, latency_ms, error, delivered, retry_at }
}

/// A client for one claim's attempts, pinned to the URL's checked address.
async fn client_for(config: &WebhookConfig, url: &str) -> Result<reqwest::Client, String> {
    let (host, addr) =
        resolve_target(url, &config.allow_networks).await.map_err(|_| format!("{url} does not resolve to an allowed address"))?;
    reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .resolve(&host, addr)
        .tls_backend_preconfigured((*config.tls).clone())
        .build()
        .map_err(|e| e.to_string())
}

async fn post(
    config: &WebhookConfig,
    client: &Result<reqwest::Client, String>,
    claim: &Claim,
    d: &Delivery,
    body: &str,
    at: i64,
) -> Result<u16, String> {
    let client = client.as_ref().map_err(Clone::clone)?;
    let ts = at / 1000;
    // During a rotation's grace period, signed with both secrets (Standard
    // Webhooks: space-separated signatures; a receiver accepts any match).
    let mut sig = sign(&claim.secret, &d.event_id, ts, body);
    if let Some(previous) = &claim.previous_secret {
        sig.push(' ');
        sig.push_str(&sign(previous, &d.event_id, ts, body));
    }
    let mut resp = client
        .post(&claim.webhook.url)
        .header("content-type", "application/json")
        .header("user-agent", concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")))
        .header("webhook-id", &d.event_id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| if e.is_timeout() { "timed out".to_string() } else { format!("connection failed: {e}") })?;
    let code = resp.status().as_u16();
    // Read (at most a bounded part of) the answer, within the timeout.
    let mut read = 0usize;
    while read < config.max_response_bytes {
        match resp.chunk().await {
            Ok(Some(c)) => read += c.len(),
            Ok(None) => break,
            Err(e) if e.is_timeout() => return Err("timed out".into()),
            Err(_) => break,
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_refuses_internal_addresses() {
        for a in ["127.0.0.1", "10.1.2.3", "169.254.169.254", "192.168.1.1", "::1", "::ffff:127.0.0.1", "fd00:ec2::254", "0.0.0.0"] {
            assert!(!address_allowed(a.parse().unwrap(), &[]), "{a}");
        }
        assert!(address_allowed("93.184.215.14".parse().unwrap(), &[]));
        assert!(address_allowed("127.0.0.1".parse().unwrap(), &parse_networks("127.0.0.0/8").unwrap()));
    }

    #[test]
    fn signatures_follow_the_standard() {
        // The example of the Standard Webhooks specification.
        let s = sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, r#"{"test": 2432232314}"#);
        assert_eq!(s, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn schedules_parse() {
        assert_eq!(parse_schedule("100ms,1s,2m,1h").unwrap().len(), 4);
        assert!(parse_duration("5x").is_err());
    }
}
