//! Passwords (argon2id, with a reuse history) and API keys (random, stored as
//! SHA-256: a 256-bit random key needs no slow hash, and lookups stay O(1)).

use crate::error::{Error, Result, Rule};
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
    let argon = Argon2::default();
    let salt_bytes: [u8; 16] = rand::random();
    let salt = Salt::new(&salt_bytes).expect("16 bytes is a valid salt length");
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    with_memory(argon.params().block_count(), |m| argon.hash_password_into_with_memory(pw.as_bytes(), salt.as_ref(), &mut out, m))
        .expect("argon2 with default parameters cannot fail");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).expect("default parameters encode"),
        salt: Some(salt),
        hash: Some(Output::new(&out).expect("32 bytes is a valid output length")),
    }
    .to_string()
}

/// Whether `pw` hashes to the PHC string `phc` (with the parameters it
/// names); the comparison takes constant time.
pub fn verify_password(pw: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(parsed.algorithm.as_str()), Params::try_from(&parsed)) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    let computed =
        with_memory(argon.params().block_count(), |m| argon.hash_password_into_with_memory(pw.as_bytes(), salt.as_ref(), &mut out, m));
    // `Output`'s equality is constant-time.
    computed.is_ok() && Output::new(&out).is_ok_and(|o| o == expected)
}

/// Runs `f` with argon2's working memory of `blocks` blocks, reused across
/// hashes. Allocating 19 MiB per hash on whichever blocking thread runs it
/// left each of glibc's per-thread arenas holding its own: 0.5–0.9 GB of RSS
/// after 64 concurrent password creates although only one hash per core
/// runs at once (`blocking`). Kept buffers: as many as hashes ran at once.
/// They hold the last hash's state, in this process only, as freed memory would.
fn with_memory<T>(blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    static KEPT: std::sync::Mutex<Vec<Vec<Block>>> = std::sync::Mutex::new(Vec::new());
    let kept = KEPT.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let mut memory = match kept {
        Some(m) if m.len() == blocks => m,
        _ => vec![Block::new(); blocks],
    };
    let out = f(&mut memory);
    if blocks == Params::default().block_count() {
        KEPT.lock().unwrap_or_else(|e| e.into_inner()).push(memory);
    }
    out
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
    // Into a buffer: `hex::encode` builds its String a char at a time, a
    // measurable part of an authenticated read (issue 26).
    let mut hex = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(key.as_bytes()), &mut hex).expect("32 bytes are 64 hex digits");
    String::from_utf8_lossy(&hex).into_owned()
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
        let hs: Vec<String> = ["pw000001", "pw000002", "pw000003", "pw000004", "pw000005"].iter().map(|p| hash_password(p)).collect();
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
