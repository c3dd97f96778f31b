//! Console users' passwords: argon2id (the crate's defaults, OWASP's first
//! choice: 19 MiB, two passes), kept as a PHC string with its own salt.
//! Hashing takes tens of milliseconds on purpose; callers run it on the
//! blocking pool.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// The shortest password a user may have.
pub const MIN_LENGTH: usize = 12;

/// The PHC string of `password`, with a new random salt.
pub fn hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::fill(&mut salt);
    let h: PasswordHash = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .expect("argon2id with its default parameters");
    h.to_string()
}

/// A new random password: 20 characters of the URL-safe base64 alphabet
/// (120 bits), for the first `admin` user.
pub fn random() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 15];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `password` is the one `phc` was made of; a `phc` that cannot be
/// read matches nothing.
pub fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_matches_its_hash_only() {
        let h = hash("correct horse battery");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify(&h, "correct horse battery"));
        assert!(!verify(&h, "correct horse batterY"));
        assert_ne!(h, hash("correct horse battery"), "a salt of its own");
        assert!(!verify("not a hash", "correct horse battery"));
    }

    #[test]
    fn random_passwords_are_long_enough_and_differ() {
        let (a, b) = (random(), random());
        assert_ne!(a, b);
        assert_eq!(a.chars().count(), 20);
        assert!(a.chars().count() >= MIN_LENGTH);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{a}"
        );
    }
}
