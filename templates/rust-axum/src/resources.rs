//! Resources and their credentials, in the `resources` table (migrations/0001_resources.sql).

use std::fmt;

use sqlx::{Any, Executor, FromRow};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::crypto::{Cipher, random_token, sha256_hex};
use crate::db::{Db, now_ms};

#[derive(Clone, Debug, FromRow)]
pub struct Resource {
    /// The provider's own id, random: never derived from `heroku_id`.
    pub id: String,
    /// Heroku's id for the add-on (v3 `uuid`): the key of idempotent provisioning and v3 SSO.
    pub uuid: Option<String>,
    pub plan: String,
    pub region: Option<String>,
    #[sqlx(try_from = "String")]
    pub state: State,
    /// Where the resource API was when it was provisioned.
    pub base_url: String,
    pub token_hash: Option<String>,
    pub token_sealed: Option<String>,
    pub api_calls: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Answered 202; the worker has not finished the asynchronous provisioning yet.
    Provisioning,
    Provisioned,
    /// The asynchronous provisioning failed for good (the job's `last_error` says why);
    /// Heroku gives up on the add-on after 12 hours.
    Failed,
    /// Credentials revoked; the row stays so that the uuid is never provisioned again.
    Deprovisioned,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Provisioning => "provisioning",
            State::Provisioned => "provisioned",
            State::Failed => "failed",
            State::Deprovisioned => "deprovisioned",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for State {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Ok(match text.as_str() {
            "provisioning" => State::Provisioning,
            "provisioned" => State::Provisioned,
            "failed" => State::Failed,
            "deprovisioned" => State::Deprovisioned,
            _ => return Err(format!("unknown resource state {text:?}")),
        })
    }
}

pub struct NewResource<'a> {
    pub uuid: Option<&'a str>,
    pub plan: &'a str,
    pub region: Option<&'a str>,
    pub base_url: &'a str,
    pub state: State,
}

/// Creates a resource with fresh credentials, or returns the one already made for this `uuid`
/// (true when created). One statement: the unique index on `uuid` decides, so concurrent copies
/// of one request (Heroku delivers at least once) all get the same resource and credentials.
pub async fn provision(
    db: impl Executor<'_, Database = Any>,
    cipher: &Cipher,
    new: &NewResource<'_>,
) -> Result<(Resource, bool), sqlx::Error> {
    let id = Uuid::new_v4().to_string();
    let token = random_token();
    let now = now_ms();
    // `DO UPDATE` rather than `DO NOTHING`, so that RETURNING gives the existing row too.
    let resource: Resource = sqlx::query_as(
        "INSERT INTO resources
             (id, uuid, plan, region, state, base_url, token_hash, token_sealed, api_calls,
              created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9)
         ON CONFLICT (uuid) DO UPDATE SET uuid = excluded.uuid
         RETURNING *",
    )
    .bind(&id)
    .bind(new.uuid)
    .bind(new.plan)
    .bind(new.region)
    .bind(new.state.as_str())
    .bind(new.base_url)
    .bind(sha256_hex(&token))
    .bind(cipher.seal(&token, &token_context(&id)))
    .bind(now)
    .fetch_one(db)
    .await?;
    let created = resource.id == id;
    Ok((resource, created))
}

pub async fn find(db: &Db, id: &str) -> Result<Option<Resource>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM resources WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn find_by_uuid(db: &Db, uuid: &str) -> Result<Option<Resource>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM resources WHERE uuid = $1")
        .bind(uuid)
        .fetch_optional(db)
        .await
}

/// `None` if the resource is gone (or deprovisioned).
pub async fn change_plan(db: &Db, id: &str, plan: &str) -> Result<Option<Resource>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE resources SET plan = $2, updated_at = $3
         WHERE id = $1 AND state <> 'deprovisioned'
         RETURNING *",
    )
    .bind(id)
    .bind(plan)
    .bind(now_ms())
    .fetch_optional(db)
    .await
}

/// Revokes the credentials and marks the resource deprovisioned; `None` if it already was (or
/// never existed).
pub async fn deprovision(
    db: impl Executor<'_, Database = Any>,
    id: &str,
) -> Result<Option<Resource>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE resources
         SET state = 'deprovisioned', token_hash = NULL, token_sealed = NULL, updated_at = $2
         WHERE id = $1 AND state <> 'deprovisioned'
         RETURNING *",
    )
    .bind(id)
    .bind(now_ms())
    .fetch_optional(db)
    .await
}

/// Moves the resource from state `from` to `to`; false if it was not in `from` any more.
pub async fn transition(
    db: impl Executor<'_, Database = Any>,
    id: &str,
    from: State,
    to: State,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE resources SET state = $3, updated_at = $4 WHERE id = $1 AND state = $2",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The resource whose credentials these are, if they are right and not revoked. The hash is
/// compared in constant time.
pub async fn authenticate(db: &Db, id: &str, token: &str) -> Result<Option<Resource>, sqlx::Error> {
    let Some(resource) = find(db, id).await? else {
        return Ok(None);
    };
    let given = sha256_hex(token);
    let matches = resource
        .token_hash
        .as_deref()
        .is_some_and(|stored| bool::from(stored.as_bytes().ct_eq(given.as_bytes())));
    Ok(matches.then_some(resource))
}

/// Counts one API call if the plan allows another: the new count, or `None` when the limit is
/// reached (or the resource was deprovisioned meanwhile). One statement, so concurrent calls
/// never exceed the limit.
pub async fn count_call(db: &Db, id: &str, limit: i64) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE resources SET api_calls = api_calls + 1
         WHERE id = $1 AND state = 'provisioned' AND api_calls < $2
         RETURNING api_calls",
    )
    .bind(id)
    .bind(limit)
    .fetch_optional(db)
    .await
}

impl Resource {
    /// The credential, decrypted; `None` once revoked.
    pub fn token(&self, cipher: &Cipher) -> Result<Option<String>, String> {
        self.token_sealed
            .as_deref()
            .map(|sealed| cipher.open(sealed, &token_context(&self.id)))
            .transpose()
    }

    /// The config var's value: the resource API's URL with the credentials as its userinfo,
    /// `https://<id>:<token>@host/api/resource`, as DATABASE_URL carries a password.
    pub fn config_url(&self, cipher: &Cipher) -> Result<Option<String>, String> {
        let Some(token) = self.token(cipher)? else {
            return Ok(None);
        };
        let (scheme, rest) = self
            .base_url
            .split_once("://")
            .ok_or_else(|| format!("base URL {:?} has no scheme", self.base_url))?;
        Ok(Some(format!(
            "{scheme}://{}:{token}@{}/api/resource",
            self.id,
            rest.trim_end_matches('/')
        )))
    }
}

/// Binds a sealed credential to its resource: copied to another row, it does not decrypt.
fn token_context(id: &str) -> String {
    format!("{id}/token")
}
