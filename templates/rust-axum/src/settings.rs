//! What the service reads from the environment (`.env` locally, config vars on Heroku).

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::crypto::Cipher;

/// Secrets and URLs from the environment. No `Debug`: it must never end up in a log.
pub struct Settings {
    /// Basic-auth credentials of Heroku's calls: the manifest's `id` and `api.password`.
    pub username: String,
    pub password: String,
    /// `None` when the add-on has no single sign-on (`kensa create --without-sso` writes no
    /// salt): the SSO routes then answer 404, since an empty salt would let anyone forge tokens.
    pub sso_salt: Option<String>,
    /// HMAC key for the session cookie, derived from `ENCRYPTION_KEY`.
    pub session_key: Vec<u8>,
    /// `PUBLIC_URL`: this service's public base URL, for the config var. When unset, it is taken
    /// from each provision request (`X-Forwarded-Proto` and `Host`) and kept with the resource.
    pub public_url: Option<String>,
    /// The base URL when neither `PUBLIC_URL` nor a `Host` header says: `http://localhost:$PORT`.
    pub local_url: String,
    /// The add-on's OAuth client secret (`HEROKU_CLIENT_SECRET`), sent only to Heroku's identity
    /// service; without it the `async` plan is refused.
    pub client_secret: Option<String>,
    /// `HEROKU_IDENTITY_URL`: where to exchange grants, overriding `heroku::identity_url`'s rule.
    pub identity_url: Option<String>,
    /// Running on a Heroku dyno (`DYNO` is set): a loopback `callback_url`, which only kensa's
    /// local Heroku sends, is then refused like any other foreign host.
    pub on_heroku: bool,
    /// Encrypts stored tokens: `ENCRYPTION_KEY`.
    pub cipher: Cipher,
    /// `ASYNC_DELAY_SECONDS`: how long an asynchronous provision waits before its first step
    /// (stands in for a slow backend; 0 by default).
    pub async_delay: Duration,
    pub jobs: JobPolicy,
}

/// How the worker (src/worker.rs) runs jobs.
#[derive(Clone, Copy, Debug)]
pub struct JobPolicy {
    /// How often to look for jobs that are due (retries, other dynos' expired leases); a new
    /// job wakes the worker at once.
    pub poll: Duration,
    /// How long a claimed job is one worker's: longer than a step takes (a token refresh and a
    /// call, each bounded by heroku.rs' timeout). After a crash, the job waits this long.
    pub lease: Duration,
    /// Wait after the first failure of a step; doubled after each later one, up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// Tries of one step before the job fails for good.
    pub max_attempts: i64,
}

impl JobPolicy {
    /// Retries 1 s, 2 s, 4 s … up to a minute apart, 8 tries: a few minutes in all, well within
    /// the grant code's lifetime and Heroku's 12 hours for an asynchronous provision.
    pub const DEFAULT: JobPolicy = JobPolicy {
        poll: Duration::from_secs(1),
        lease: Duration::from_secs(30),
        first_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(60),
        max_attempts: 8,
    };

    /// The wait after the `attempt`-th try failed (1-based).
    pub fn backoff(&self, attempt: i64) -> Duration {
        let doublings = u32::try_from(attempt.clamp(1, 31) - 1).unwrap_or(0);
        self.first_backoff
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.max_backoff)
    }
}

impl Settings {
    pub fn from_env(port: u16) -> Result<Self, String> {
        Self::from_vars(|name| std::env::var(name).ok(), port)
    }

    /// From the variables `var` gives (the environment, or a test's table).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>, port: u16) -> Result<Self, String> {
        let optional = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let required = |name: &str| {
            optional(name).ok_or_else(|| {
                format!("{name} is not set (run with the variables from .env, or set it on Heroku)")
            })
        };
        let encryption_key = required("ENCRYPTION_KEY")?;
        let cipher = Cipher::from_hex(&encryption_key)
            .map_err(|why| format!("ENCRYPTION_KEY {why} (`openssl rand -hex 32` makes one)"))?;
        let async_delay = match optional("ASYNC_DELAY_SECONDS") {
            None => Duration::ZERO,
            Some(text) => Duration::from_secs(text.trim().parse().map_err(|_| {
                format!("ASYNC_DELAY_SECONDS must be a whole number of seconds, got {text:?}")
            })?),
        };
        Ok(Self {
            username: required("HEROKU_USERNAME")?,
            password: required("HEROKU_PASSWORD")?,
            sso_salt: optional("SSO_SALT"),
            session_key: session_key(&encryption_key),
            public_url: optional("PUBLIC_URL").map(|url| url.trim_end_matches('/').to_owned()),
            local_url: format!("http://localhost:{port}"),
            client_secret: optional("HEROKU_CLIENT_SECRET"),
            identity_url: optional("HEROKU_IDENTITY_URL"),
            on_heroku: var("DYNO").is_some(),
            cipher,
            async_delay,
            jobs: JobPolicy::DEFAULT,
        })
    }
}

/// A key of its own for the session cookie, derived from `ENCRYPTION_KEY` so that one secret
/// is enough (the hash keeps the two uses apart).
pub fn session_key(encryption_key: &str) -> Vec<u8> {
    Sha256::digest(format!("session-cookie:{}", encryption_key.trim())).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::HashMap;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_vars(|name| vars.get(name).cloned(), 5000)
    }

    const REQUIRED: [(&str, &str); 3] = [
        ("HEROKU_USERNAME", "my-addon"),
        ("HEROKU_PASSWORD", "pw"),
        ("ENCRYPTION_KEY", KEY),
    ];

    #[test]
    fn the_generated_env_is_enough() {
        let s = settings(&REQUIRED).unwrap();
        assert_eq!(
            (s.username.as_str(), s.password.as_str()),
            ("my-addon", "pw")
        );
        assert!(
            s.sso_salt.is_none(),
            "no SSO_SALT: SSO off, the service still starts"
        );
        assert_eq!(s.local_url, "http://localhost:5000");
        assert_eq!(s.async_delay, Duration::ZERO);
        assert!(s.public_url.is_none() && s.client_secret.is_none());
        assert!(!s.on_heroku);
        let mut vars = REQUIRED.to_vec();
        vars.push(("DYNO", "web.1"));
        assert!(settings(&vars).unwrap().on_heroku, "Heroku sets DYNO");
    }

    #[test]
    fn a_missing_or_malformed_key_is_refused_by_name() {
        let without: Vec<_> = REQUIRED[..2].to_vec();
        let why = settings(&without).err().unwrap();
        assert!(why.starts_with("ENCRYPTION_KEY is not set"), "{why}");
        for bad in ["abc", "zz", &KEY[..60]] {
            let vars = [REQUIRED[0], REQUIRED[1], ("ENCRYPTION_KEY", bad)];
            let why = settings(&vars).err().unwrap();
            assert!(
                why.starts_with("ENCRYPTION_KEY must be 64 hexadecimal"),
                "{why}"
            );
        }
    }

    #[test]
    fn optional_values() {
        let mut vars = REQUIRED.to_vec();
        vars.extend([
            ("SSO_SALT", "salt"),
            ("PUBLIC_URL", "https://my-addon.example/"),
            ("ASYNC_DELAY_SECONDS", "5"),
            ("HEROKU_CLIENT_SECRET", " "),
        ]);
        let s = settings(&vars).unwrap();
        assert_eq!(s.sso_salt.as_deref(), Some("salt"));
        assert_eq!(s.public_url.as_deref(), Some("https://my-addon.example"));
        assert_eq!(s.async_delay, Duration::from_secs(5));
        assert!(s.client_secret.is_none(), "blank is unset");
        let mut vars = REQUIRED.to_vec();
        vars.push(("ASYNC_DELAY_SECONDS", "soon"));
        assert!(
            settings(&vars)
                .err()
                .unwrap()
                .starts_with("ASYNC_DELAY_SECONDS")
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = JobPolicy::DEFAULT;
        let waits: Vec<u64> = (1..=8).map(|n| policy.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(policy.backoff(0).as_secs(), 1);
        assert_eq!(policy.backoff(i64::MAX).as_secs(), 60);
    }
}
