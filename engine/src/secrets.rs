//! Secrets at rest (provider client secrets, support-desk tokens): sealed with
//! XChaCha20-Poly1305 under one key. The key comes from configuration
//! (`TENANTRY_SECRET_KEY`, 64 hex characters) or is generated once into the
//! data directory with owner-only permissions. Sealed values carry a version
//! prefix so the scheme can change; opening checks integrity, so a tampered
//! or foreign value is refused rather than decrypted to garbage.

use chacha20poly1305::aead::{Aead, KeyInit, OsRng};
use chacha20poly1305::{AeadCore, XChaCha20Poly1305, XNonce};
use std::path::Path;

const PREFIX: &str = "v1:";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the secret key must be 64 hexadecimal characters")]
    BadKey,
    #[error("cannot read or create the secret key file: {0}")]
    KeyFile(String),
    #[error("the stored secret cannot be opened with this key")]
    Unreadable,
}

/// A value that must never be shown, logged or serialised.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(**redacted**)")
    }
}

/// Compares two secrets without saying, by its timing, how much matched.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn derive_key(key: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"tenantry derived values v1");
    h.update(key);
    h.finalize().into()
}

#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
    /// A subkey for deriving values every process with this key agrees on
    /// (the first-run setup code); never the key itself.
    derive_key: [u8; 32],
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(**key redacted**)")
    }
}

impl SecretBox {
    pub fn from_hex(key: &str) -> Result<SecretBox, SecretError> {
        let bytes = hex::decode(key.trim()).map_err(|_| SecretError::BadKey)?;
        if bytes.len() != 32 {
            return Err(SecretError::BadKey);
        }
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| SecretError::BadKey)?;
        Ok(SecretBox {
            cipher,
            derive_key: derive_key(&bytes),
        })
    }

    /// A fresh key that lives only in this process.
    pub fn random() -> SecretBox {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        SecretBox {
            cipher: XChaCha20Poly1305::new(&key),
            derive_key: derive_key(&key),
        }
    }

    /// A value derived from the key for `purpose`: the same in every process
    /// holding this key, unguessable without it.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(self.derive_key);
        h.update(purpose.as_bytes());
        h.finalize().into()
    }

    /// HMAC-SHA256 of `message` under a key derived for `purpose`: a
    /// signature only a process holding this key can make or check.
    pub fn mac(&self, purpose: &str, message: &[u8]) -> [u8; 32] {
        use hmac::Mac;
        let key = self.derive(purpose);
        // HMAC takes a key of any length: this cannot fail.
        let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&key) else {
            return [0; 32];
        };
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// The configured key, else the key in `dir/secret.key`, created (0600)
    /// on first use. An existing key file that other users can read is
    /// refused (with how to fix it): whoever reads it opens every secret.
    pub fn load(configured: Option<&str>, dir: &Path) -> Result<SecretBox, SecretError> {
        if let Some(k) = configured {
            return Self::from_hex(k);
        }
        let path = dir.join("secret.key");
        if path.exists() {
            return Self::from_hex(&read_secret_file(&path)?);
        }
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let text = hex::encode(key);
        write_private(&path, &text).map_err(|e| SecretError::KeyFile(e.to_string()))?;
        Self::from_hex(&text)
    }

    pub fn seal(&self, secret: &Secret) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption with a valid key and nonce cannot fail for in-memory data.
        let sealed = self
            .cipher
            .encrypt(&nonce, secret.expose().as_bytes())
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}", hex::encode(bytes))
    }

    pub fn open(&self, sealed: &str) -> Result<Secret, SecretError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(SecretError::Unreadable)?;
        let bytes = hex::decode(body).map_err(|_| SecretError::Unreadable)?;
        if bytes.len() < 24 + 16 {
            return Err(SecretError::Unreadable);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| SecretError::Unreadable)?;
        String::from_utf8(plain)
            .map(Secret)
            .map_err(|_| SecretError::Unreadable)
    }
}

/// Reads a secret from a file (a key file, `--halo-client-secret-file`, …),
/// trimmed. Refused when group or others may read it.
pub fn read_secret_file(path: &Path) -> Result<String, SecretError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .map_err(|e| SecretError::KeyFile(format!("{}: {e}", path.display())))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SecretError::KeyFile(format!(
                "{} can be read by other users (mode {mode:o}); make it private with: chmod 600 {}",
                path.display(),
                path.display()
            )));
        }
    }
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| SecretError::KeyFile(format!("{}: {e}", path.display())))
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_values_follow_the_key_and_secrets_compare_whole() {
        let key = "ab".repeat(32);
        let a = SecretBox::from_hex(&key).expect("key");
        let b = SecretBox::from_hex(&key).expect("key");
        let other = SecretBox::from_hex(&"cd".repeat(32)).expect("key");
        assert_eq!(
            a.derive("purpose"),
            b.derive("purpose"),
            "every process agrees"
        );
        assert_ne!(a.derive("purpose"), other.derive("purpose"));
        assert_ne!(a.derive("purpose"), a.derive("another purpose"));
        assert!(same_secret(b"123456", b"123456"));
        assert!(!same_secret(b"123456", b"123457"));
        assert!(!same_secret(b"12345", b"123456"));
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("tenantry-secrets-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn seals_and_opens() {
        let b = SecretBox::from_hex(&"11".repeat(32)).expect("key");
        let sealed = b.seal(&Secret::new("client-secret-value"));
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("client-secret-value"));
        assert_eq!(
            b.open(&sealed).expect("open").expose(),
            "client-secret-value"
        );
        assert_ne!(
            sealed,
            b.seal(&Secret::new("client-secret-value")),
            "a fresh nonce every time"
        );
    }

    #[test]
    fn tampering_and_foreign_keys_are_refused() {
        let b = SecretBox::from_hex(&"11".repeat(32)).expect("key");
        let other = SecretBox::from_hex(&"22".repeat(32)).expect("key");
        let sealed = b.seal(&Secret::new("s3cret"));
        assert_eq!(other.open(&sealed), Err(SecretError::Unreadable));
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            b.open(&String::from_utf8(tampered).expect("utf8")),
            Err(SecretError::Unreadable)
        );
        assert_eq!(b.open("s3cret"), Err(SecretError::Unreadable));
        assert_eq!(b.open("v1:zz"), Err(SecretError::Unreadable));
    }

    #[test]
    fn bad_keys_are_refused() {
        assert_eq!(SecretBox::from_hex("abc").err(), Some(SecretError::BadKey));
        assert_eq!(
            SecretBox::from_hex(&"1".repeat(63)).err(),
            Some(SecretError::BadKey)
        );
    }

    #[test]
    fn the_key_file_is_created_once_and_private() {
        let dir = temp_dir("keyfile");
        let a = SecretBox::load(None, &dir).expect("create");
        let sealed = a.seal(&Secret::new("kept"));
        let b = SecretBox::load(None, &dir).expect("reuse");
        assert_eq!(b.open(&sealed).expect("same key").expose(), "kept");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("secret.key"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            // A key file others can read is refused, with the fix in the words.
            std::fs::set_permissions(
                dir.join("secret.key"),
                std::fs::Permissions::from_mode(0o644),
            )
            .expect("chmod");
            let refused = SecretBox::load(None, &dir).err().map(|e| e.to_string());
            assert!(
                refused.as_deref().is_some_and(|e| e.contains("chmod 600")),
                "{refused:?}"
            );
            std::fs::set_permissions(
                dir.join("secret.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .expect("chmod");
            assert!(SecretBox::load(None, &dir).is_ok());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn secrets_never_print() {
        assert_eq!(
            format!("{:?}", Secret::new("hunter2")),
            "Secret(**redacted**)"
        );
        let b = SecretBox::from_hex(&"11".repeat(32)).expect("key");
        assert!(!format!("{b:?}").contains("11"));
    }
}
