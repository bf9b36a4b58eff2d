//! The v3 asynchronous flow after a 202 (docs/protocol.md#asynchronous-provisioning): the
//! provider exchanges the grant, sets the config through the Platform API, and marks the
//! resource provisioned, each observed on kensa's loopback fake Heroku.

use serde_json::{Map, Value};

use crate::check::report::{Recorder, Stage};
use crate::check::{config, Provider};
use crate::registry::{async_flow, provision};
use crate::verdict::Verdict;

/// Waits (up to `--async-timeout`) for the asynchronous flow of `uuid` to finish, without
/// recording anything; true when kensa's fake Heroku is there to wait on.
pub fn await_flow(provider: &Provider, uuid: &str) -> bool {
    let Some(fake) = &provider.heroku else {
        return false;
    };
    let callback = fake.callback_url(uuid);
    provider.await_callbacks(
        fake,
        uuid,
        &format!("the provider's provisioning callbacks to {callback}"),
        |r| r.provisioned.is_some(),
    );
    true
}

/// After a 202 (or with `--async`): waits for the provider to call the fake Heroku back
/// (unless `wait` is false: [`await_flow`] did), and checks each step. Returns the config
/// set through the API.
pub fn async_callbacks(
    rec: &mut Recorder,
    provider: &Provider,
    uuid: &str,
    wait: bool,
) -> Map<String, Value> {
    let Some(fake) = &provider.heroku else {
        rec.note(
            &provision::ASYNC_UNOBSERVABLE,
            Verdict::Fail(
                "answered 202; the callbacks of a production service cannot be observed from here"
                    .into(),
            ),
        );
        return Map::new();
    };
    let callback = fake.callback_url(uuid);
    rec.section(
        Stage::Async,
        format!("async provisioning callbacks to {callback}"),
    );
    let secs = provider.async_timeout.as_secs();
    let record = if wait {
        provider
            .await_callbacks(
                fake,
                uuid,
                &format!("the provider's provisioning callbacks to {callback}"),
                |r| r.provisioned.is_some(),
            )
            .0
    } else {
        fake.record(uuid)
    };
    let refused = record.refusals.first().cloned();
    let never = |what: &str| match &refused {
        Some(why) => Verdict::Fail(format!("{what} within {secs} s; a call was refused: {why}")),
        None => {
            Verdict::Fail(fake.with_strays(0, format!("{what} within {secs} s (--async-timeout)")))
        }
    };
    rec.note(
        &async_flow::GRANT_EXCHANGED,
        match &record.exchange {
            Some(Ok(())) => Verdict::Pass,
            Some(Err(why)) => Verdict::Fail(why.clone()),
            None => never(&format!(
                "the provider never exchanged oauth_grant.code at {}/oauth/token",
                fake.base_url()
            )),
        },
    );
    let config: Map<String, Value> = record.config.iter().cloned().collect();
    let declared = provider.manifest.config_vars();
    if config.is_empty() && !declared.is_empty() {
        rec.note(
            &async_flow::CONFIG_SET,
            never(&format!("no config was set with PATCH {callback}/config")),
        );
    } else {
        rec.note(&async_flow::CONFIG_SET, Verdict::Pass);
        config::check_values(rec, provider, &config, true);
    }
    rec.note(
        &async_flow::PROVISIONED,
        match &record.provisioned {
            Some(Ok(())) => Verdict::Pass,
            Some(Err(why)) => Verdict::Fail(why.clone()),
            None => never(&format!(
                "the provider never called POST {callback}/actions/provision"
            )),
        },
    );
    config
}
