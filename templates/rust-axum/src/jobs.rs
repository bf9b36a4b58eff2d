//! Persisted asynchronous jobs, in the `jobs` table (migrations/0002_jobs.sql): what the worker
//! (src/worker.rs) runs, step by step, and resumes after a restart.

use std::fmt;

use sqlx::{Any, Executor, FromRow};

use crate::crypto::Cipher;
use crate::db::{Db, now_ms};
use crate::heroku::Tokens;

#[derive(Clone, FromRow)]
pub struct Job {
    pub resource_id: String,
    #[sqlx(try_from = "String")]
    pub kind: Kind,
    #[sqlx(try_from = "String")]
    pub step: Step,
    pub callback_url: String,
    pub identity_url: String,
    pub grant_code_sealed: Option<String>,
    pub access_token_sealed: Option<String>,
    pub refresh_token_sealed: Option<String>,
    pub access_token_expires_at: Option<i64>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// Shows where a job is, never its secrets (not even encrypted).
impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("resource_id", &self.resource_id)
            .field("kind", &self.kind)
            .field("step", &self.step)
            .field("attempts", &self.attempts)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Exchange the grant, set the config, mark the add-on provisioned.
    Provision,
    /// Tell Heroku a deprovisioned add-on is gone.
    Deprovision,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Accepted,
    GrantExchanged,
    ConfigSet,
    Done,
    Failed,
}

macro_rules! text_enum {
    ($type:ty { $($variant:ident = $text:literal),* $(,)? }) => {
        impl $type {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }
        }

        impl TryFrom<String> for $type {
            type Error = String;

            fn try_from(text: String) -> Result<Self, String> {
                match text.as_str() {
                    $($text => Ok(Self::$variant),)*
                    _ => Err(format!("unknown {} {text:?}", stringify!($type))),
                }
            }
        }
    };
}

text_enum!(Kind { Provision = "provision", Deprovision = "deprovision" });
text_enum!(Step {
    Accepted = "accepted",
    GrantExchanged = "grant_exchanged",
    ConfigSet = "config_set",
    Done = "done",
    Failed = "failed",
});

/// A new provision job, for a resource just answered 202.
pub struct NewProvision<'a> {
    pub resource_id: &'a str,
    pub callback_url: &'a str,
    pub identity_url: &'a str,
    pub grant_code: &'a str,
    pub grant_expires_at: Option<&'a str>,
    /// Not run before this time (Unix ms).
    pub run_after: i64,
}

pub async fn insert_provision(
    db: impl Executor<'_, Database = Any>,
    cipher: &Cipher,
    job: &NewProvision<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO jobs
             (resource_id, kind, step, callback_url, identity_url, grant_code_sealed,
              grant_expires_at, attempts, run_after, created_at, updated_at)
         VALUES ($1, 'provision', 'accepted', $2, $3, $4, $5, 0, $6, $7, $7)
         ON CONFLICT (resource_id, kind) DO NOTHING",
    )
    .bind(job.resource_id)
    .bind(job.callback_url)
    .bind(job.identity_url)
    .bind(cipher.seal(
        job.grant_code,
        &secret_context(job.resource_id, "grant_code"),
    ))
    .bind(job.grant_expires_at)
    .bind(job.run_after)
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(())
}

/// A deprovision job for a resource whose provision job got tokens, carrying those tokens;
/// false when there are none (Heroku cannot be called back without them).
pub async fn insert_deprovision(
    db: impl Executor<'_, Database = Any>,
    resource_id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO jobs
             (resource_id, kind, step, callback_url, identity_url, access_token_sealed,
              refresh_token_sealed, access_token_expires_at, attempts, run_after, created_at,
              updated_at)
         SELECT resource_id, 'deprovision', 'accepted', callback_url, identity_url,
                access_token_sealed, refresh_token_sealed, access_token_expires_at, 0, $2, $2, $2
         FROM jobs
         WHERE resource_id = $1 AND kind = 'provision' AND access_token_sealed IS NOT NULL
         ON CONFLICT (resource_id, kind) DO NOTHING",
    )
    .bind(resource_id)
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
pub async fn find(db: &Db, resource_id: &str, kind: Kind) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM jobs WHERE resource_id = $1 AND kind = $2")
        .bind(resource_id)
        .bind(kind.as_str())
        .fetch_optional(db)
        .await
}

/// Unfinished jobs that may run now and that no worker holds: after a restart, every job the
/// previous process left unfinished.
pub async fn due(db: &Db, now: i64) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT resource_id, kind FROM jobs
         WHERE step IN ('accepted', 'grant_exchanged', 'config_set')
           AND run_after <= $1 AND (lease_until IS NULL OR lease_until < $1)
         ORDER BY run_after
         LIMIT 100",
    )
    .bind(now)
    .fetch_all(db)
    .await
}

/// Takes the job for this worker until `lease_until`, counting a try; `None` if another
/// worker holds it, it is done, or not due. One statement, so two dynos never both get it.
pub async fn claim(
    db: &Db,
    resource_id: &str,
    kind: &str,
    lease_until: i64,
) -> Result<Option<Job>, sqlx::Error> {
    let now = now_ms();
    sqlx::query_as(
        "UPDATE jobs SET lease_until = $3, attempts = attempts + 1, updated_at = $4
         WHERE resource_id = $1 AND kind = $2
           AND step IN ('accepted', 'grant_exchanged', 'config_set')
           AND run_after <= $4 AND (lease_until IS NULL OR lease_until < $4)
         RETURNING *",
    )
    .bind(resource_id)
    .bind(kind)
    .bind(lease_until)
    .bind(now)
    .fetch_optional(db)
    .await
}

/// Records a step reached past `Accepted` (tries start over; the grant code, used, is
/// dropped), with the tokens it got if any, and keeps the lease until `lease_until`. One
/// statement: a crash cannot keep the tokens but lose the step, or the other way round.
pub async fn advance(
    db: &Db,
    cipher: &Cipher,
    job: &mut Job,
    step: Step,
    tokens: Option<&Tokens>,
    lease_until: i64,
) -> Result<(), sqlx::Error> {
    if let Some(tokens) = tokens {
        job.seal_tokens(cipher, tokens);
    }
    sqlx::query(
        "UPDATE jobs SET step = $3, attempts = 0, last_error = NULL, lease_until = $4,
                         grant_code_sealed = NULL, access_token_sealed = $5,
                         refresh_token_sealed = $6, access_token_expires_at = $7, updated_at = $8
         WHERE resource_id = $1 AND kind = $2",
    )
    .bind(&job.resource_id)
    .bind(job.kind.as_str())
    .bind(step.as_str())
    .bind(lease_until)
    .bind(&job.access_token_sealed)
    .bind(&job.refresh_token_sealed)
    .bind(job.access_token_expires_at)
    .bind(now_ms())
    .execute(db)
    .await?;
    job.step = step;
    job.attempts = 0;
    job.grant_code_sealed = None;
    Ok(())
}

/// Stores refreshed tokens (encrypted) on the job.
pub async fn store_tokens(
    db: &Db,
    cipher: &Cipher,
    job: &mut Job,
    tokens: &Tokens,
) -> Result<(), sqlx::Error> {
    job.seal_tokens(cipher, tokens);
    sqlx::query(
        "UPDATE jobs SET access_token_sealed = $3, refresh_token_sealed = $4,
                         access_token_expires_at = $5, updated_at = $6
         WHERE resource_id = $1 AND kind = $2",
    )
    .bind(&job.resource_id)
    .bind(job.kind.as_str())
    .bind(&job.access_token_sealed)
    .bind(&job.refresh_token_sealed)
    .bind(job.access_token_expires_at)
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(())
}

/// The step failed for a reason that may pass: try again at `run_after`, whoever is running then.
pub async fn retry_later(
    db: &Db,
    job: &Job,
    error: &str,
    run_after: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE jobs SET last_error = $3, run_after = $4, lease_until = NULL, updated_at = $5
         WHERE resource_id = $1 AND kind = $2",
    )
    .bind(&job.resource_id)
    .bind(job.kind.as_str())
    .bind(error)
    .bind(run_after)
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(())
}

/// Ends the job: `Done`, or `Failed` with the reason.
pub async fn finish(
    db: impl Executor<'_, Database = Any>,
    job: &Job,
    step: Step,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE jobs SET step = $3, last_error = $4, lease_until = NULL, grant_code_sealed = NULL,
                         updated_at = $5
         WHERE resource_id = $1 AND kind = $2",
    )
    .bind(&job.resource_id)
    .bind(job.kind.as_str())
    .bind(step.as_str())
    .bind(error)
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(())
}

/// Lets go of a job without counting a try, on a clean shutdown, so that the next process (or
/// another dyno) picks it up at once rather than when the lease runs out.
pub async fn release(db: &Db, job: &Job) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE jobs SET lease_until = NULL, attempts = attempts - 1, updated_at = $3
         WHERE resource_id = $1 AND kind = $2",
    )
    .bind(&job.resource_id)
    .bind(job.kind.as_str())
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(())
}

impl Job {
    pub fn grant_code(&self, cipher: &Cipher) -> Result<Option<String>, String> {
        self.open(cipher, self.grant_code_sealed.as_deref(), "grant_code")
    }

    /// The stored tokens, decrypted; `None` before the grant exchange.
    pub fn tokens(&self, cipher: &Cipher) -> Result<Option<Tokens>, String> {
        let Some(access_token) =
            self.open(cipher, self.access_token_sealed.as_deref(), "access_token")?
        else {
            return Ok(None);
        };
        Ok(Some(Tokens {
            access_token,
            refresh_token: self.open(
                cipher,
                self.refresh_token_sealed.as_deref(),
                "refresh_token",
            )?,
            expires_at: self.access_token_expires_at,
        }))
    }

    /// Keeps `tokens` encrypted in the job's fields (the refresh token stays when no new one
    /// came).
    fn seal_tokens(&mut self, cipher: &Cipher, tokens: &Tokens) {
        let id = &self.resource_id;
        self.access_token_sealed =
            Some(cipher.seal(&tokens.access_token, &secret_context(id, "access_token")));
        if let Some(refresh) = &tokens.refresh_token {
            self.refresh_token_sealed =
                Some(cipher.seal(refresh, &secret_context(id, "refresh_token")));
        }
        self.access_token_expires_at = tokens.expires_at;
    }

    fn open(
        &self,
        cipher: &Cipher,
        sealed: Option<&str>,
        name: &str,
    ) -> Result<Option<String>, String> {
        sealed
            .map(|sealed| cipher.open(sealed, &secret_context(&self.resource_id, name)))
            .transpose()
    }
}

/// Binds a sealed secret to its resource and purpose (a deprovision job's copy of the tokens
/// still opens: same resource, same purpose).
fn secret_context(resource_id: &str, name: &str) -> String {
    format!("{resource_id}/{name}")
}
