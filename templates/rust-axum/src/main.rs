//! A Heroku add-on provider service: provisioning API, single sign-on and a dashboard.

mod app;
mod config;
mod heroku;
mod sso;
mod store;
#[cfg(test)]
mod tests;

use std::net::{Ipv4Addr, Ipv6Addr};

use tokio::net::TcpListener;

use crate::app::{AppState, Settings};

#[tokio::main]
async fn main() {
    let port = match std::env::var("PORT") {
        Ok(value) => match value.parse() {
            Ok(port) => port,
            Err(_) => fail(&format!("PORT must be a port number, got {value:?}")),
        },
        Err(_) => config::DEFAULT_PORT,
    };
    let settings = Settings::from_env(port).unwrap_or_else(|message| fail(&message));
    let listener = bind(port)
        .await
        .unwrap_or_else(|e| fail(&format!("cannot listen on port {port}: {e}")));

    // Secrets stay out of the logs: only say where we listen.
    println!("{} listening on port {port}", config::ADDON_NAME);
    let served = axum::serve(listener, app::app(AppState::new(settings)))
        .with_graceful_shutdown(shutdown_signal())
        .await;
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
        use tokio::signal::unix::{signal, SignalKind};
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
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
