//! Passwords (argon2id) and random secrets (session ids, API tokens, CSRF tokens).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

/// 32 random bytes from the operating system, as hex.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex::encode(bytes)
}

/// How a high-entropy secret (session id, API token) is kept: its SHA-256, never the secret itself.
pub fn secret_digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Hashes a password with argon2id and a fresh salt, in PHC string form.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source failed");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt length");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id with default parameters accepts any password")
        .to_string()
}

/// Checks a password against a stored hash. With no stored hash it still does the work of a check, so that timing
/// does not tell which usernames exist.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| hash_password(&random_secret()));
    let (hash, real) = match stored {
        Some(h) => (h, true),
        None => (DUMMY.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && real
}

/// The rules for a new password.
pub fn check_new_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < 10 {
        return Err(format!("password: must be at least 10 characters (this one has {n})"));
    }
    if n > 200 {
        return Err("password: must be at most 200 characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let h = hash_password("remit-demo");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("remit-demo", Some(&h)));
        assert!(!verify_password("remit-demO", Some(&h)));
        assert!(!verify_password("remit-demo", None));
        assert_ne!(h, hash_password("remit-demo"), "each hash has its own salt");
    }

    #[test]
    fn secrets_are_random_and_digests_fixed() {
        assert_ne!(random_secret(), random_secret());
        assert_eq!(secret_digest("a"), secret_digest("a"));
        assert_eq!(random_secret().len(), 64);
    }
}
