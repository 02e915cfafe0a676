//! The service's key material, kept in files under the data directory (or a configured path)
//! and generated on first use — never committed, never stored in the database:
//!
//! - `signing-ed25519.pk8`: the Ed25519 key that signs day seals and remittance files; its
//!   public half is published at `GET /v1/signing-key`.
//! - `hmac-master.key`: 32 random bytes from which each treasury client's request-signing
//!   secret is derived (so the database holds no secret a reader could reuse), and the keys of
//!   every hash that covers personal data (DESIGN §7): payer identity numbers
//!   ([`ServiceKeys::keyed_hash`]) and request bodies ([`ServiceKeys::request_hash`]), so that a
//!   reader of the database cannot recover an identity number by guessing and hashing.
//!
//! May depend on: nothing inside the crate.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};
use ring::{digest, hmac, signature};

/// The purpose under which request bodies are hashed (see [`ServiceKeys::request_hash`]).
const REQUEST_HASH_PURPOSE: &str = "request-hash";

/// Why the keys cannot be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing a key file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The file exists but is not a key of the right kind.
    #[error("key file {0} is not a valid key")]
    Invalid(PathBuf),
    /// The system random generator failed.
    #[error("the system random generator failed")]
    Random,
}

/// The loaded keys.
pub struct ServiceKeys {
    signing: Ed25519KeyPair,
    hmac_master: hmac::Key,
}

impl std::fmt::Debug for ServiceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceKeys")
            .field("public_key", &self.public_key_base64())
            .finish_non_exhaustive()
    }
}

/// Fills a buffer with system randomness.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut buf = [0u8; N];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| KeyError::Random)?;
    Ok(buf)
}

impl ServiceKeys {
    /// Loads the keys from `dir`, creating the directory and any missing key.
    pub fn load_or_create(dir: &Path) -> Result<ServiceKeys, KeyError> {
        fs::create_dir_all(dir).map_err(|source| KeyError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let signing_path = dir.join("signing-ed25519.pk8");
        let pkcs8 = read_or_create(&signing_path, || {
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map(|d| d.as_ref().to_vec())
                .map_err(|_| KeyError::Random)
        })?;
        let signing = Ed25519KeyPair::from_pkcs8(&pkcs8)
            .map_err(|_| KeyError::Invalid(signing_path.clone()))?;
        let master_path = dir.join("hmac-master.key");
        let master = read_or_create(&master_path, || random_bytes::<32>().map(|b| b.to_vec()))?;
        if master.len() != 32 {
            return Err(KeyError::Invalid(master_path));
        }
        Ok(ServiceKeys {
            signing,
            hmac_master: hmac::Key::new(hmac::HMAC_SHA256, &master),
        })
    }

    /// Signs bytes with the service's Ed25519 key.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.signing.sign(message).as_ref().to_vec()
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> &[u8] {
        self.signing.public_key().as_ref()
    }

    /// The public key, base64.
    pub fn public_key_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.public_key())
    }

    /// A keyed hash of `data` for one `purpose` (HMAC-SHA256 under a key derived from the
    /// master key): lets equal values be matched without storing them, e.g. payer ids.
    pub fn keyed_hash(&self, purpose: &str, data: &str) -> Vec<u8> {
        let key = hmac::Key::new(
            hmac::HMAC_SHA256,
            hmac::sign(&self.hmac_master, purpose.as_bytes()).as_ref(),
        );
        hmac::sign(&key, data.as_bytes()).as_ref().to_vec()
    }

    /// The one hash of a request body that may be stored or compared (idempotency keys, stored
    /// answers): `HMAC-SHA256(k, SHA-256(body))`, `k` derived from the master key. A plain
    /// SHA-256 of a body that holds a payer's identity number could be reversed by guessing the
    /// few million numbers of a birth date and district; this cannot without the key file.
    pub fn request_hash(&self, body: &[u8]) -> [u8; 32] {
        self.request_hash_of_digest(&BodyDigest::of(body))
    }

    /// [`ServiceKeys::request_hash`] from the body's SHA-256, already taken: what a body read
    /// once ([`BodyDigest`]) is stored as, and how a stored plain SHA-256 written before hashes
    /// were keyed is converted in place (it stays comparable with new requests).
    pub fn request_hash_of_digest(&self, digest: &BodyDigest) -> [u8; 32] {
        let key = hmac::Key::new(
            hmac::HMAC_SHA256,
            hmac::sign(&self.hmac_master, REQUEST_HASH_PURPOSE.as_bytes()).as_ref(),
        );
        let mut out = [0u8; 32];
        out.copy_from_slice(hmac::sign(&key, &digest.0).as_ref());
        out
    }

    /// Derives a named secret (e.g. a treasury client's request-signing secret) from the master
    /// key: HMAC-SHA256(master, label), base64url without padding.
    pub fn derive_secret(&self, label: &str) -> String {
        let tag = hmac::sign(&self.hmac_master, label.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
    }
}

/// The plain SHA-256 of a request body, held only in memory: it compares with another body's
/// digest, and becomes storable only through [`ServiceKeys::request_hash_of_digest`] (there is no
/// way to its bytes, so it cannot be stored by mistake).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BodyDigest([u8; 32]);

impl BodyDigest {
    /// SHA-256 of `body`.
    pub fn of(body: &[u8]) -> BodyDigest {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, body).as_ref());
        BodyDigest(out)
    }

    /// A plain SHA-256 stored before request hashes were keyed, to be converted with
    /// [`ServiceKeys::request_hash_of_digest`]; `None` unless it is 32 bytes.
    pub fn legacy(stored: &[u8]) -> Option<BodyDigest> {
        <[u8; 32]>::try_from(stored).ok().map(BodyDigest)
    }
}

impl std::fmt::Debug for BodyDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BodyDigest(..)")
    }
}

/// Checks an Ed25519 signature with a public key (what a treasury does, here for tests).
pub fn verify_signature(public_key: &[u8], message: &[u8], sig: &[u8]) -> bool {
    signature::UnparsedPublicKey::new(&signature::ED25519, public_key)
        .verify(message, sig)
        .is_ok()
}

fn read_or_create(
    path: &Path,
    make: impl FnOnce() -> Result<Vec<u8>, KeyError>,
) -> Result<Vec<u8>, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    match fs::read(path) {
        Ok(bytes) => return Ok(bytes),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        Err(_) => {}
    }
    let bytes = make()?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut f) => {
            f.write_all(&bytes).map_err(io)?;
            f.sync_all().map_err(io)?;
            Ok(bytes)
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => fs::read(path).map_err(io),
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (tempfile::TempDir, ServiceKeys) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let keys = ServiceKeys::load_or_create(dir.path()).unwrap_or_else(|e| panic!("keys: {e}"));
        (dir, keys)
    }

    #[test]
    fn request_hash_is_keyed_and_not_the_plain_digest() {
        let (_a, one) = keys();
        let (_b, other) = keys();
        let body = br#"{"payer":{"id_number":"110101199003071234"}}"#;
        let plain = digest::digest(&digest::SHA256, body);
        assert_ne!(&one.request_hash(body)[..], plain.as_ref());
        // Another key file, another hash: without the file the hash cannot be recomputed.
        assert_ne!(one.request_hash(body), other.request_hash(body));
        assert_eq!(one.request_hash(body), one.request_hash(body));
        assert_ne!(one.request_hash(body), one.request_hash(b"{}"));
    }

    #[test]
    fn a_legacy_plain_digest_converts_to_the_keyed_hash_of_the_same_body() {
        let (_d, keys) = keys();
        let body = b"{\"amount\":\"10.00\"}";
        let stored = digest::digest(&digest::SHA256, body);
        let legacy = BodyDigest::legacy(stored.as_ref()).unwrap_or_else(|| panic!("32 bytes"));
        assert_eq!(
            keys.request_hash_of_digest(&legacy),
            keys.request_hash(body)
        );
        assert!(BodyDigest::legacy(&[0u8; 31]).is_none());
    }

    #[test]
    fn the_key_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let first = ServiceKeys::load_or_create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let again = ServiceKeys::load_or_create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.request_hash(b"x"), again.request_hash(b"x"));
    }
}
