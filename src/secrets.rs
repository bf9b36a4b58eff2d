//! Secrets for the manifest: drawn from a CSPRNG seeded by the operating system.

use rand::distr::{Alphanumeric, SampleString};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

/// Length of `password` and `sso_salt`: 32 alphanumerics carry about 190 bits.
pub const SECRET_LEN: usize = 32;

/// A fresh secret of [`SECRET_LEN`] ASCII letters and digits.
pub fn generate() -> String {
    // StdRng is a CSPRNG; seeding it straight from the OS keeps the source explicit.
    let mut rng = StdRng::from_os_rng();
    Alphanumeric.sample_string(&mut rng, SECRET_LEN)
}

/// A 256-bit key as 64 lowercase hex characters: the generated service's
/// `ENCRYPTION_KEY`, which encrypts the OAuth tokens it stores (AES-256-GCM).
pub fn key_hex() -> String {
    let mut key = [0u8; 32];
    StdRng::from_os_rng().fill_bytes(&mut key);
    hex::encode(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_256_bit_hex_and_fresh() {
        let a = key_hex();
        assert_eq!(a.len(), 64);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
            "{a}"
        );
        assert_ne!(a, key_hex());
    }

    #[test]
    fn secrets_are_long_alphanumeric_and_fresh() {
        let a = generate();
        let b = generate();
        assert_eq!(a.len(), SECRET_LEN);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
    }
}
