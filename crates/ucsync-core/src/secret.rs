//! Secrets: the installation's secret key, which encrypts device passwords
//! and secret fields (station security codes) at rest and keys the content
//! hash, and is never stored in the database; and [`Password`], the one
//! wrapper of an element's password on its way to the element.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand08::{OsRng, RngCore};
use zeroize::Zeroize;

/// Marks an encrypted value, so plaintext is never mistaken for ciphertext.
const PREFIX: &str = "enc1:";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the secret key must be 32 bytes, given as 64 hex digits")]
    BadKey,
    #[error(
        "a stored secret cannot be decrypted: the secret key is not the one it was stored with"
    )]
    Undecryptable,
}

/// 32 bytes of key material.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl SecretKey {
    pub fn generate() -> SecretKey {
        let mut k = [0u8; 32];
        OsRng.fill_bytes(&mut k);
        SecretKey(k)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> SecretKey {
        SecretKey(bytes)
    }

    /// From 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(s: &str) -> Result<SecretKey, SecretError> {
        let s = s.trim();
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SecretError::BadKey);
        }
        let mut k = [0u8; 32];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            k[i] = u8::from_str_radix(
                std::str::from_utf8(chunk).map_err(|_| SecretError::BadKey)?,
                16,
            )
            .map_err(|_| SecretError::BadKey)?;
        }
        Ok(SecretKey(k))
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The key of the content hash, derived so the two uses never share a key.
    pub fn hash_key(&self) -> [u8; 32] {
        blake3::derive_key("ucsync 2026 content hash", &self.0)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&blake3::derive_key(
            "ucsync 2026 secrets at rest",
            &self.0,
        )))
    }

    /// Encrypts with a fresh nonce: the same plaintext gives a different text each time.
    pub fn encrypt(&self, plain: &str) -> String {
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), plain.as_bytes())
            .expect("encryption of a string cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", B64.encode(out))
    }

    pub fn decrypt(&self, text: &str) -> Result<String, SecretError> {
        let raw = text
            .strip_prefix(PREFIX)
            .and_then(|b| B64.decode(b).ok())
            .ok_or(SecretError::Undecryptable)?;
        if raw.len() < 24 {
            return Err(SecretError::Undecryptable);
        }
        let (nonce, sealed) = raw.split_at(24);
        let plain = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), sealed)
            .map_err(|_| SecretError::Undecryptable)?;
        String::from_utf8(plain).map_err(|_| SecretError::Undecryptable)
    }

    pub fn is_encrypted(text: &str) -> bool {
        text.starts_with(PREFIX)
    }
}

/// A password every connector sends to its element (SSH login, HTTP basic
/// authentication, LDAP bind): it never prints — `Debug` shows `***` and
/// there is no `Display` — and its memory is wiped when it is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(s: impl Into<String>) -> Password {
        Password(s.into())
    }

    /// The password itself, for the one place of each connector that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_prints() {
        let p = Password::new("craft01");
        assert_eq!(format!("{p:?}"), "Password(***)");
        assert_eq!(
            format!("{:?}", Some(p.clone())),
            "Some(Password(***))",
            "nor inside another type's Debug"
        );
        assert_eq!(p.expose(), "craft01");
    }

    #[test]
    fn round_trip_fresh_nonces_and_wrong_key() {
        let k = SecretKey::generate();
        let a = k.encrypt("86421357");
        let b = k.encrypt("86421357");
        assert_ne!(a, b);
        assert!(!a.contains("86421357"));
        assert_eq!(k.decrypt(&a).unwrap(), "86421357");
        assert_eq!(
            SecretKey::generate().decrypt(&a),
            Err(SecretError::Undecryptable)
        );
        assert_eq!(k.decrypt("86421357"), Err(SecretError::Undecryptable));
        assert_eq!(
            SecretKey::from_hex(&k.to_hex())
                .unwrap()
                .decrypt(&a)
                .unwrap(),
            "86421357"
        );
        assert_eq!(SecretKey::from_hex("abc").unwrap_err(), SecretError::BadKey);
        assert_ne!(k.hash_key(), SecretKey::generate().hash_key());
    }
}
