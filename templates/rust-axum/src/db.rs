//! The database: Postgres when `DATABASE_URL` says so (Heroku Postgres sets it), else an
//! embedded SQLite file under `data/`. Every query is written once, in SQL both understand,
//! and run through sqlx's `Any` driver.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{MigrateError, Migrator};

pub type Db = AnyPool;

/// The embedded default, relative to the directory the service runs in (the project's, as the
/// Procfile and README run it). Git-ignored.
pub const EMBEDDED_DIR: &str = "data";
pub const EMBEDDED_URL: &str = "sqlite://data/addon.sqlite3?mode=rwc";

/// migrations/, embedded in the binary at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// True on a Heroku dyno (Heroku sets `DYNO`, in the release phase too): production.
pub fn on_heroku() -> bool {
    std::env::var_os("DYNO").is_some()
}

/// `DATABASE_URL` when set, else the embedded SQLite file (its directory created on demand).
pub fn url_from_env() -> Result<String, String> {
    let url = choose_url(std::env::var("DATABASE_URL").ok().as_deref(), on_heroku())?;
    if url == EMBEDDED_URL {
        std::fs::create_dir_all(EMBEDDED_DIR)
            .map_err(|e| format!("cannot create {EMBEDDED_DIR}/: {e}"))?;
    }
    Ok(url)
}

/// On Heroku the embedded database is refused: a dyno's filesystem is discarded at every
/// restart, and every resource with it.
pub fn choose_url(database_url: Option<&str>, on_heroku: bool) -> Result<String, String> {
    match database_url.map(str::trim).filter(|url| !url.is_empty()) {
        Some(url) => Ok(url.to_owned()),
        None if on_heroku => Err(
            "DATABASE_URL is not set: on Heroku the embedded database would \
             be lost with the dyno's filesystem (heroku addons:create heroku-postgresql)"
                .into(),
        ),
        None => Ok(EMBEDDED_URL.to_owned()),
    }
}

/// What `url` names, for logs: the URL itself would show a password.
pub fn describe(url: &str) -> &'static str {
    if url.starts_with("sqlite:") {
        "the embedded SQLite database (data/)"
    } else {
        "Postgres (DATABASE_URL)"
    }
}

/// A pool of connections to `url`. Heroku Postgres is reached over TLS (sqlx's default
/// `sslmode=prefer` uses it when the server offers it; add `?sslmode=require` to insist).
pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
    install_default_drivers();
    let sqlite = url.starts_with("sqlite:");
    let pool = AnyPoolOptions::new()
        // Heroku Postgres' smallest plans allow 20 connections; leave room for a second dyno
        // and a release phase. SQLite has one writer at a time anyway.
        .max_connections(if sqlite { 4 } else { 8 })
        // Nothing hangs: a request that cannot get a connection in time gets an error.
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?;
    if sqlite {
        // Readers do not wait for the writer, and the writer does not wait for readers. The
        // setting is kept in the database file; sqlx waits up to 5 s for a busy database.
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&pool)
            .await?;
    }
    Ok(pool)
}

/// Applies the migrations not applied yet, each in a transaction, recorded in
/// `_sqlx_migrations`. On Postgres an advisory lock makes concurrent runs (two dynos, a release
/// phase and a web start) wait for each other.
pub async fn migrate(db: &Db) -> Result<(), MigrateError> {
    MIGRATOR.run(db).await
}

/// What the web process does with the schema on start. Elsewhere than on Heroku (development)
/// it migrates, so that starting is one step. On Heroku the release phase migrates before a
/// release takes traffic: a pending migration means it did not run, and the process refuses to
/// serve a schema it was not built for. `Err` says why it may not start.
pub async fn prepare(db: &Db, on_heroku: bool) -> Result<(), String> {
    if !on_heroku {
        return migrate(db)
            .await
            .map_err(|e| format!("migrating failed: {e}"));
    }
    let pending = pending(db)
        .await
        .map_err(|e| format!("cannot read the applied migrations: {e}"))?;
    if pending.is_empty() {
        return Ok(());
    }
    Err(format!(
        "migrations {pending:?} are not applied: the release phase (the Procfile's release: \
         line) applies them"
    ))
}

/// The versions in migrations/ that the database has not applied.
pub async fn pending(db: &Db) -> Result<Vec<i64>, sqlx::Error> {
    let applied: Vec<i64> =
        match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(db)
            .await
        {
            Ok(applied) => applied,
            // No migrations table: nothing was ever applied.
            Err(sqlx::Error::Database(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
    Ok(MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
        .map(|m| m.version)
        .collect())
}

/// Now, in Unix epoch milliseconds: how every time is stored.
pub fn now_ms() -> i64 {
    millis(SystemTime::now())
}

pub fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `duration` in milliseconds, for adding to [`now_ms`].
pub fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_or_the_embedded_one_but_not_on_heroku() {
        let pg = "postgres://u:p@host:5432/db";
        assert_eq!(choose_url(Some(pg), false).as_deref(), Ok(pg));
        assert_eq!(choose_url(Some(pg), true).as_deref(), Ok(pg));
        assert_eq!(choose_url(None, false).as_deref(), Ok(EMBEDDED_URL));
        assert_eq!(choose_url(Some(" "), false).as_deref(), Ok(EMBEDDED_URL));
        let why = choose_url(None, true).unwrap_err();
        assert!(why.starts_with("DATABASE_URL is not set"), "{why}");
    }
}
