//! For the tests that drive the library instead of the binary: a reporter that renders
//! nothing, and the provider under test as the simulator builds it, without a fake Heroku.

use std::io;

use kensa::check::report::{Report, Reporter};
use kensa::check::Provider;
use kensa::http::Client;
use kensa::manifest::Manifest;

use super::TIMEOUT;

/// Collects nothing, prints nothing: the tests read the [`Report`] itself.
pub struct Quiet;

impl Reporter for Quiet {
    fn finish(&mut self, _: &Report) -> io::Result<()> {
        Ok(())
    }
}

/// The provider `manifest` describes, at its test or production URLs, with no loopback
/// Heroku (as for production). `None` when the manifest has no such endpoint.
pub fn provider(manifest: &Manifest, production: bool) -> Option<Provider<'_>> {
    Some(Provider {
        manifest,
        endpoint: manifest.endpoint(production)?,
        production,
        client: Client::new(TIMEOUT, false, vec![]),
        heroku: None,
        force_async: false,
        async_timeout: std::time::Duration::from_secs(1),
    })
}
