//! Cache keys: SHA-256 of the image bytes and of everything that changes the answer.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// Bump when the key derivation or the stored value format changes: replicas on the new format then never read
/// entries the old one left in a shared Redis.
const PREFIX: &str = "hub:v1:";

/// Identifies one answer: `hub:v1:` followed by 64 hex digits.
///
/// Two keys are equal only if the image bytes and the identity are both equal, so a request that differs in any
/// part of its identity (engine, model, profile, alphabet, options...) never shares an entry with another. Cloning
/// is a reference-count increment.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(Arc<str>);

impl CacheKey {
    /// Key for `image` answered under `answer_identity`: a string that changes whenever anything that changes the
    /// answer does (engine name and version or model identity, profile/precision, alphabet, options...).
    pub fn new(image: &[u8], answer_identity: &str) -> Self {
        // The image digest has a fixed length, so `digest ‖ identity` cannot collide for different pairs.
        let mut hasher = Sha256::new();
        hasher.update(Sha256::digest(image));
        hasher.update(answer_identity.as_bytes());
        let mut key = String::with_capacity(PREFIX.len() + 64);
        key.push_str(PREFIX);
        for byte in hasher.finalize() {
            // Writing to a String cannot fail.
            let _ = write!(key, "{byte:02x}");
        }
        Self(key.into())
    }

    /// The key as stored (also the Redis key).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CacheKey").field(&&*self.0).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &[u8] = b"\x89PNG not really an image";

    #[test]
    fn same_inputs_same_key() {
        assert_eq!(CacheKey::new(IMAGE, "engine=paddle"), CacheKey::new(IMAGE, "engine=paddle"));
    }

    #[test]
    fn key_is_prefixed_hex() {
        let key = CacheKey::new(IMAGE, "engine=paddle");
        let hex = key.as_str().strip_prefix("hub:v1:").expect("version prefix");
        assert_eq!(hex.len(), 64);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    #[test]
    fn different_identity_different_key() {
        let base = CacheKey::new(IMAGE, "engine=paddle;model=v5;profile=fp32");
        for other in ["engine=tesseract;model=v5;profile=fp32", "engine=paddle;model=v4;profile=fp32", "", "x"] {
            assert_ne!(base, CacheKey::new(IMAGE, other), "{other}");
        }
    }

    #[test]
    fn different_image_different_key() {
        assert_ne!(CacheKey::new(IMAGE, "engine=paddle"), CacheKey::new(b"another image", "engine=paddle"));
        assert_ne!(CacheKey::new(b"", "a"), CacheKey::new(b"a", ""));
    }
}
