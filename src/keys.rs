//! The service's key material, kept in files under the data directory (or a configured path)
//! and generated on first use — never committed, never stored in the database:
//!
//! - `signing-ed25519.pk8`: the Ed25519 key that signs day seals and remittance files; its
//!   public half is published at `GET /v1/signing-key`. Every key is named by its key id
//!   ([`kid_of`]: the first 16 hex digits of the SHA-256 of the raw public key, so anyone can
//!   compute it offline), and every signature names the key that made it ([`Signature`]). A
//!   rotation writes the next key beside it as `signing-ed25519.pk8.next` and then renames it
//!   over the current file ([`ServiceKeys::stage_next_signing`], [`promote_next_signing`]):
//!   the retired private half is not kept — nothing may sign with it again, and its public
//!   half stays published from the database.
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
use std::sync::{Arc, RwLock};

use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};
use ring::{digest, hmac, signature};

/// The purpose under which request bodies are hashed (see [`ServiceKeys::request_hash`]).
const REQUEST_HASH_PURPOSE: &str = "request-hash";

/// The signing key's file name in the key folder.
pub const SIGNING_FILE: &str = "signing-ed25519.pk8";
/// A staged next signing key (a rotation under way), beside the current one.
pub const NEXT_SIGNING_FILE: &str = "signing-ed25519.pk8.next";
/// The HMAC master key's file name in the key folder.
pub const MASTER_FILE: &str = "hmac-master.key";

/// The key id of an Ed25519 public key: the first 16 lowercase hex digits of the SHA-256 of
/// its 32 raw bytes. Stable, and computable offline from the published key.
pub fn kid_of(public_key: &[u8]) -> String {
    let mut hex = hex::encode(digest::digest(&digest::SHA256, public_key));
    hex.truncate(16);
    hex
}

/// A signature and the id of the key that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The signing key's id ([`kid_of`]).
    pub kid: String,
    /// The 64-byte Ed25519 signature.
    pub bytes: Vec<u8>,
}

/// The signing key in use and its id, swapped as one when the key is reloaded.
struct Signer {
    pair: Ed25519KeyPair,
    kid: String,
}

impl Signer {
    fn from_pkcs8(pkcs8: &[u8], path: &Path) -> Result<Signer, KeyError> {
        let pair =
            Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| KeyError::Invalid(path.to_path_buf()))?;
        let kid = kid_of(pair.public_key().as_ref());
        Ok(Signer { pair, kid })
    }
}

/// Which key files are in the key folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyFilesPresent {
    /// `signing-ed25519.pk8`.
    pub signing: bool,
    /// `hmac-master.key`.
    pub master: bool,
}

impl KeyFilesPresent {
    /// Looks in `dir` (a missing folder has no files).
    pub fn in_dir(dir: &Path) -> KeyFilesPresent {
        KeyFilesPresent {
            signing: dir.join(SIGNING_FILE).is_file(),
            master: dir.join(MASTER_FILE).is_file(),
        }
    }
}

/// A staged next signing key: its file is written beside the current one, not yet in use.
#[derive(Debug, Clone)]
pub struct StagedKey {
    /// Its key id.
    pub kid: String,
    /// Its 32-byte public key.
    pub public_key: Vec<u8>,
}

/// Reads the public half and key id of the signing key file at `path` (`None` when absent).
pub fn signing_file_public_key(path: &Path) -> Result<Option<StagedKey>, KeyError> {
    match fs::read(path) {
        Ok(pkcs8) => {
            let signer = Signer::from_pkcs8(&pkcs8, path)?;
            Ok(Some(StagedKey {
                kid: signer.kid,
                public_key: signer.pair.public_key().as_ref().to_vec(),
            }))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(KeyError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes a new signing key as the staged next key in `dir` (replacing a staged one left
/// behind by an interrupted rotation), and answers its id and public key. The current key is
/// untouched until [`promote_next_signing`].
pub fn stage_next_signing(dir: &Path) -> Result<StagedKey, KeyError> {
    let path = dir.join(NEXT_SIGNING_FILE);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(KeyError::Io { path, source: e })
        }
        _ => {}
    }
    let pkcs8 = read_or_create(&path, new_pkcs8)?;
    let signer = Signer::from_pkcs8(&pkcs8, &path)?;
    Ok(StagedKey {
        kid: signer.kid,
        public_key: signer.pair.public_key().as_ref().to_vec(),
    })
}

/// Puts the staged next key in place of the current signing key file (one rename: the
/// retired private key is gone in the same step).
pub fn promote_next_signing(dir: &Path) -> Result<(), KeyError> {
    let from = dir.join(NEXT_SIGNING_FILE);
    fs::rename(&from, dir.join(SIGNING_FILE)).map_err(|source| KeyError::Io { path: from, source })
}

/// Removes a staged next key that was not recorded (a rotation that failed before the database
/// took it).
pub fn discard_next_signing(dir: &Path) {
    let _ = fs::remove_file(dir.join(NEXT_SIGNING_FILE));
}

/// Makes a new HMAC master key file in `dir` (only where there is none: an existing one is
/// kept and read).
pub fn create_master(dir: &Path) -> Result<(), KeyError> {
    fs::create_dir_all(dir).map_err(|source| KeyError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    read_or_create(&dir.join(MASTER_FILE), || {
        random_bytes::<32>().map(|b| b.to_vec())
    })
    .map(|_| ())
}

fn new_pkcs8() -> Result<Vec<u8>, KeyError> {
    Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map(|d| d.as_ref().to_vec())
        .map_err(|_| KeyError::Random)
}

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
    signing: RwLock<Arc<Signer>>,
    hmac_master: hmac::Key,
    dir: PathBuf,
}

impl std::fmt::Debug for ServiceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceKeys")
            .field("kid", &self.kid())
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
        let signing_path = dir.join(SIGNING_FILE);
        let pkcs8 = read_or_create(&signing_path, new_pkcs8)?;
        let signing = Signer::from_pkcs8(&pkcs8, &signing_path)?;
        let master_path = dir.join(MASTER_FILE);
        let master = read_or_create(&master_path, || random_bytes::<32>().map(|b| b.to_vec()))?;
        if master.len() != 32 {
            return Err(KeyError::Invalid(master_path));
        }
        Ok(ServiceKeys {
            signing: RwLock::new(Arc::new(signing)),
            hmac_master: hmac::Key::new(hmac::HMAC_SHA256, &master),
            dir: dir.to_path_buf(),
        })
    }

    fn signer(&self) -> Arc<Signer> {
        // A poisoned lock still holds a whole key (the swap is one assignment).
        match self.signing.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Signs bytes with the service's Ed25519 key; the signature names the key that made it.
    pub fn sign(&self, message: &[u8]) -> Signature {
        let signer = self.signer();
        Signature {
            kid: signer.kid.clone(),
            bytes: signer.pair.sign(message).as_ref().to_vec(),
        }
    }

    /// The id of the key that signs now.
    pub fn kid(&self) -> String {
        self.signer().kid.clone()
    }

    /// The 32-byte public key that signs now.
    pub fn public_key(&self) -> Vec<u8> {
        self.signer().pair.public_key().as_ref().to_vec()
    }

    /// Reads the signing key file again (another instance, or `onecard keys rotate-signing`,
    /// may have rotated it) and signs with it from now on; answers the id now in use.
    pub fn reload_signing(&self) -> Result<String, KeyError> {
        let path = self.dir.join(SIGNING_FILE);
        let pkcs8 = fs::read(&path).map_err(|source| KeyError::Io {
            path: path.clone(),
            source,
        })?;
        let signer = Arc::new(Signer::from_pkcs8(&pkcs8, &path)?);
        let kid = signer.kid.clone();
        match self.signing.write() {
            Ok(mut s) => *s = signer,
            Err(poisoned) => *poisoned.into_inner() = signer,
        }
        Ok(kid)
    }

    /// The key folder.
    pub fn dir(&self) -> &Path {
        &self.dir
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

    #[test]
    fn a_kid_is_the_first_16_hex_of_the_public_keys_sha256_and_every_signature_names_it() {
        let (_d, keys) = keys();
        let public_key = keys.public_key();
        let full = hex::encode(digest::digest(&digest::SHA256, &public_key));
        assert_eq!(keys.kid(), full[..16]);
        assert_eq!(kid_of(&public_key), keys.kid());
        let signed = keys.sign(b"seal");
        assert_eq!(signed.kid, keys.kid());
        assert!(verify_signature(&public_key, b"seal", &signed.bytes));
        // Another key, another id.
        let (_e, other) = self::keys();
        assert_ne!(other.kid(), keys.kid());
    }

    #[test]
    fn a_staged_key_is_not_used_until_promoted_and_a_reload_then_signs_with_it() {
        let (dir, keys) = keys();
        let old = keys.kid();
        let staged = stage_next_signing(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(staged.kid, old);
        assert_eq!(staged.kid, kid_of(&staged.public_key));
        // Still the old key on disk and in memory.
        let on_disk = signing_file_public_key(&dir.path().join(SIGNING_FILE))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("a key file"));
        assert_eq!(on_disk.kid, old);
        assert_eq!(keys.sign(b"x").kid, old);
        promote_next_signing(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!dir.path().join(NEXT_SIGNING_FILE).exists());
        // The running keys keep naming their own key until they reload.
        assert_eq!(keys.sign(b"x").kid, old);
        assert_eq!(keys.reload_signing().unwrap_or_default(), staged.kid);
        let signed = keys.sign(b"x");
        assert_eq!(signed.kid, staged.kid);
        assert!(verify_signature(&staged.public_key, b"x", &signed.bytes));
        assert!(signing_file_public_key(&dir.path().join("absent"))
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none());
    }
}
