//! Secrets at rest: random credentials, their hashes, and AES-256-GCM for the tokens that must
//! be read back (OAuth tokens for Heroku's API, a resource's credential for its config var).

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// AES-GCM's standard nonce length.
const NONCE_LEN: usize = 12;

/// Encrypts and decrypts stored secrets with the key from `ENCRYPTION_KEY`.
#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
}

impl Cipher {
    /// `hex`: 64 hexadecimal characters, a 256-bit key (`kensa create` writes a random one into
    /// `.env`; `openssl rand -hex 32` makes another).
    pub fn from_hex(hex: &str) -> Result<Self, String> {
        let key = hex::decode(hex.trim())
            .ok()
            .filter(|key| key.len() == 32)
            .ok_or("must be 64 hexadecimal characters (a 256-bit key)")?;
        let aead = Aes256Gcm::new_from_slice(&key).map_err(|_| "is not a 256-bit key")?;
        Ok(Self { aead })
    }

    /// `base64url(nonce ‖ ciphertext ‖ tag)`, with a fresh random nonce for every value.
    /// `context` (say `"<resource id>/access_token"`) is authenticated with it, so a value
    /// copied into another row or column does not decrypt there.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let nonce = Nonce::generate();
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption only fails for inputs of gigabytes; these are tokens.
        let ciphertext = self
            .aead
            .encrypt(&nonce, payload)
            .expect("AES-GCM encrypts short messages");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        URL_SAFE_NO_PAD.encode(sealed)
    }

    /// The plaintext of [`Cipher::seal`]; an error for another key, context or a tampered value.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| "a stored secret is not valid base64")?;
        if bytes.len() < NONCE_LEN {
            return Err("a stored secret is too short".into());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| "a stored secret has a bad nonce")?;
        let payload = Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        let plaintext = self.aead.decrypt(&nonce, payload).map_err(|_| {
            "a stored secret does not decrypt: was ENCRYPTION_KEY changed?".to_owned()
        })?;
        String::from_utf8(plaintext).map_err(|_| "a stored secret is not UTF-8".into())
    }
}

/// `N` bytes from the operating system's RNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    getrandom::fill(&mut bytes).expect("the operating system's RNG is available");
    bytes
}

/// A credential: 256 random bits, hex-encoded so it needs no escaping in a URL.
pub fn random_token() -> String {
    hex::encode(random_bytes::<32>())
}

/// How credentials are stored. A salt or a slow hash adds nothing for 256 random bits.
pub fn sha256_hex(input: &str) -> String {
    hex::encode(Sha256::digest(input.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn seal_and_open_round_trip_with_fresh_nonces() {
        let cipher = Cipher::from_hex(KEY).unwrap();
        let a = cipher.seal("tok-1", "r1/access_token");
        let b = cipher.seal("tok-1", "r1/access_token");
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.contains("tok-1"));
        assert_eq!(cipher.open(&a, "r1/access_token").unwrap(), "tok-1");
        assert_eq!(cipher.open(&b, "r1/access_token").unwrap(), "tok-1");
    }

    #[test]
    fn another_key_context_or_a_tampered_value_does_not_open() {
        let cipher = Cipher::from_hex(KEY).unwrap();
        let sealed = cipher.seal("tok-1", "r1/access_token");
        assert!(cipher.open(&sealed, "r2/access_token").is_err());
        let other = Cipher::from_hex(&"ab".repeat(32)).unwrap();
        assert!(other.open(&sealed, "r1/access_token").is_err());
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(bytes);
        assert!(cipher.open(&tampered, "r1/access_token").is_err());
        assert!(cipher.open("%%%", "r1/access_token").is_err());
        assert!(cipher.open("AAAA", "r1/access_token").is_err());
    }

    #[test]
    fn keys_must_be_256_bit_hex() {
        assert!(Cipher::from_hex(KEY).is_ok());
        assert!(Cipher::from_hex(&format!(" {KEY}\n")).is_ok());
        for bad in ["", "00", &KEY[..62], &format!("{KEY}00"), &"zz".repeat(32)] {
            assert!(Cipher::from_hex(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tokens_are_random_256_bit_hex() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(sha256_hex("abc").len(), 64);
    }
}
