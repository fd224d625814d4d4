//! Passwords (argon2id, with a reuse history) and API keys (random, stored as
//! SHA-256: a 256-bit random key needs no slow hash, and lookups stay O(1)).

use crate::error::{Error, Result, Rule};
use argon2::password_hash::{phc::PasswordHash, PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use sha2::{Digest, Sha256};

/// The password rules LiveVox documents: at least 8 characters with a digit,
/// not one of the previous 3 (on create) or 4 (on update) passwords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_len: usize,
    pub max_len: usize,
    pub require_digit: bool,
    /// How many previous passwords a new one may not repeat.
    pub history: usize,
}

impl PasswordPolicy {
    pub const ON_CREATE: PasswordPolicy = PasswordPolicy { min_len: 8, max_len: 128, require_digit: true, history: 3 };
    pub const ON_UPDATE: PasswordPolicy = PasswordPolicy { min_len: 8, max_len: 128, require_digit: true, history: 4 };

    pub fn check(&self, pw: &str) -> Result<()> {
        let n = pw.chars().count();
        if n == 0 {
            return Err(Error::invalid("password", Rule::Required));
        }
        if n < self.min_len {
            return Err(Error::invalid("password", Rule::TooShort { min: self.min_len }));
        }
        if n > self.max_len {
            return Err(Error::invalid("password", Rule::TooLong { max: self.max_len }));
        }
        if self.require_digit && !pw.chars().any(|c| c.is_ascii_digit()) {
            return Err(Error::invalid("password", Rule::MissingDigit));
        }
        Ok(())
    }

    /// Rejects `pw` if it matches any of `previous` (newest first), up to the
    /// policy's history length. CPU-heavy: one argon2 verification each.
    pub fn check_history(&self, pw: &str, previous: &[String]) -> Result<()> {
        if previous.iter().take(self.history).any(|h| verify_password(pw, h)) {
            return Err(Error::invalid("password", Rule::Reused { last: self.history }));
        }
        Ok(())
    }
}

/// argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane), the
/// OWASP-recommended minimum; parameters are stored in each PHC string.
pub fn hash_password(pw: &str) -> String {
    Argon2::default()
        .hash_password(pw.as_bytes())
        .map(|h| h.to_string())
        .expect("argon2 with default parameters cannot fail")
}

pub fn verify_password(pw: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(pw.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Runs a CPU-heavy closure off the async workers when inside a runtime.
///
/// At most one such closure runs per core: each argon2 hash holds 19 MiB, and
/// more hashes at once than cores only add memory (64 concurrent password
/// requests would take 1.2 GB) and latency, not throughput. Waiters are
/// served in order (tokio's semaphore is fair).
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            let permits = PERMITS.get_or_init(|| tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, usize::from)));
            let _permit = permits.acquire().await.ok();
            h.spawn_blocking(f).await.expect("hashing task panicked")
        }
        Err(_) => f(),
    }
}

const KEY_PREFIX: &str = "sb_";

/// A fresh API key: `sb_` followed by 43 url-safe characters (256 bits).
pub fn generate_api_key() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{KEY_PREFIX}{}", encode_url_safe(&bytes))
}

/// A random password for generated accounts: 20 characters, always with digits.
pub fn generate_password() -> String {
    let bytes: [u8; 15] = rand::random();
    let mut s = encode_url_safe(&bytes);
    s.replace_range(0..2, "9a");
    s
}

/// The stored form of an API key.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// What a list of keys shows of one: enough to recognise, useless to attack.
pub fn api_key_prefix(key: &str) -> String {
    key.chars().take(KEY_PREFIX.len() + 6).collect()
}

fn encode_url_safe(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 2);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_rules_in_order() {
        let p = PasswordPolicy::ON_UPDATE;
        assert!(matches!(p.check(""), Err(Error::Invalid { rule: Rule::Required, .. })));
        assert!(matches!(p.check("1234567"), Err(Error::Invalid { rule: Rule::TooShort { min: 8 }, .. })));
        assert!(matches!(p.check("abcdefgh"), Err(Error::Invalid { rule: Rule::MissingDigit, .. })));
        assert!(p.check("A12345678").is_ok());
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash_password("A12345678");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("A12345678", &h));
        assert!(!verify_password("A12345679", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn history_limits_to_policy_length() {
        let hs: Vec<String> = ["pw000001", "pw000002", "pw000003", "pw000004", "pw000005"]
            .iter()
            .map(|p| hash_password(p))
            .collect();
        assert!(PasswordPolicy::ON_UPDATE.check_history("pw000004", &hs).is_err());
        assert!(PasswordPolicy::ON_UPDATE.check_history("pw000005", &hs).is_ok());
        assert!(PasswordPolicy::ON_CREATE.check_history("pw000004", &hs).is_ok());
    }

    #[test]
    fn api_keys_are_long_and_hash_stably() {
        let k = generate_api_key();
        assert!(k.starts_with("sb_") && k.len() == 46, "{k}");
        assert_eq!(hash_api_key(&k), hash_api_key(&k));
        assert_ne!(generate_api_key(), k);
        assert!(generate_password().chars().any(|c| c.is_ascii_digit()));
    }
}
