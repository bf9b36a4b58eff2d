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

/// `DATABASE_URL` when set, else the embedded SQLite file (its directory created on demand).
pub fn url_from_env() -> std::io::Result<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Ok(url.trim().to_owned()),
        _ => {
            std::fs::create_dir_all(EMBEDDED_DIR)?;
            Ok(EMBEDDED_URL.to_owned())
        }
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
