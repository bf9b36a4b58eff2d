//! A Heroku add-on provider service: the provisioning API, single sign-on, a dashboard, the
//! resource API behind the config var, and a worker for asynchronous provisioning.
//!
//! `<binary>` serves (migrating the database first); `<binary> migrate` only migrates (the
//! Procfile's `release:` line, Heroku's release phase).

mod app;
mod auth;
mod config;
mod crypto;
mod dashboard;
mod db;
mod error;
mod heroku;
mod jobs;
mod plans;
mod provisioning;
mod resource_api;
mod resources;
mod settings;
mod sso;
#[cfg(test)]
mod tests;
mod worker;

use std::net::{Ipv4Addr, Ipv6Addr};

use tokio::net::TcpListener;

use crate::app::AppState;
use crate::settings::Settings;
use crate::worker::Worker;

const USAGE: &str = "usage: serve with no arguments; `migrate` applies the database migrations";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => serve().await,
        ["migrate"] => {
            migrate().await;
        }
        ["-h" | "--help"] => println!("{USAGE}"),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

/// Connects to the database named by the environment.
async fn connect() -> (db::Db, &'static str) {
    let url = db::url_from_env().unwrap_or_else(|why| fail(&why));
    let where_ = db::describe(&url);
    let pool = db::connect(&url)
        .await
        .unwrap_or_else(|e| fail(&format!("cannot connect to {where_}: {e}")));
    (pool, where_)
}

/// Applies pending migrations.
async fn migrate() -> db::Db {
    let (pool, where_) = connect().await;
    db::migrate(&pool)
        .await
        .unwrap_or_else(|e| fail(&format!("migrating {where_} failed: {e}")));
    println!("database schema up to date on {where_}");
    pool
}

/// Connects, and migrates in development or checks on Heroku (`db::prepare`).
async fn database() -> db::Db {
    let (pool, where_) = connect().await;
    db::prepare(&pool, db::on_heroku())
        .await
        .unwrap_or_else(|why| fail(&format!("{where_}: {why}")));
    println!("database schema up to date on {where_}");
    pool
}

async fn serve() {
    let port = match std::env::var("PORT") {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| fail(&format!("PORT must be a port number, got {value:?}"))),
        Err(_) => config::DEFAULT_PORT,
    };
    let settings = Settings::from_env(port).unwrap_or_else(|message| fail(&message));
    let db = database().await;
    let listener = bind(port)
        .await
        .unwrap_or_else(|e| fail(&format!("cannot listen on port {port}: {e}")));

    let state = AppState::new(settings, db.clone());
    if state.settings.sso_salt.is_none() {
        println!("SSO_SALT is not set: single sign-on is off");
    }
    // Resumes every job a previous process left unfinished.
    let worker = Worker::start(state.clone());
    // Secrets stay out of the logs: only say where we listen.
    println!("{} listening on port {port}", config::ADDON_NAME);
    let served = axum::serve(listener, app::app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    worker.stop().await;
    db.close().await;
    if let Err(e) = served {
        fail(&format!("server error: {e}"));
    }
    println!("shut down");
}

/// Listens on every address. `[::]` also takes IPv4 on Linux, so `localhost` works whichever
/// family it resolves to; hosts without IPv6 fall back to `0.0.0.0`.
async fn bind(port: u16) -> std::io::Result<TcpListener> {
    match TcpListener::bind((Ipv6Addr::UNSPECIFIED, port)).await {
        Ok(listener) => Ok(listener),
        Err(_) => TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).await,
    }
}

/// Resolves on SIGTERM (what Heroku and CI send to stop a dyno) or Ctrl-C, so in-flight
/// requests finish before the process exits.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
