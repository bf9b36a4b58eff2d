//! Secrets for the manifest: drawn from a CSPRNG seeded by the operating system.

use rand::distr::{Alphanumeric, SampleString};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Length of `password` and `sso_salt`: 32 alphanumerics carry about 190 bits.
pub const SECRET_LEN: usize = 32;

/// A fresh secret of [`SECRET_LEN`] ASCII letters and digits.
pub fn generate() -> String {
    // StdRng is a CSPRNG; seeding it straight from the OS keeps the source explicit.
    let mut rng = StdRng::from_os_rng();
    Alphanumeric.sample_string(&mut rng, SECRET_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_alphanumeric_and_fresh() {
        let a = generate();
        let b = generate();
        assert_eq!(a.len(), SECRET_LEN);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
    }
}
