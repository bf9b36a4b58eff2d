//! The v3 asynchronous flow after a 202 (docs/protocol.md#asynchronous-provisioning), as
//! kensa's loopback Heroku observes it.

use super::examples as ex;
use super::pages::{ASYNC_BLOG, ASYNC_PROVISIONING, PARTNER_API};
use super::Severity::Requirement;
use super::{Anchor, CheckDef, Source};

const ASYNC: Anchor = Anchor::AsynchronousProvisioning;

pub static GRANT_EXCHANGED: CheckDef = CheckDef {
    id: "async.grant-exchanged",
    title: "grant code exchanged",
    severity: Requirement,
    row: 42,
    rule: "After a 202, the provider exchanges `oauth_grant.code` at the identity service (`POST /oauth/token`, with its client secret, as a form body or a query string) before the grant expires.",
    source: Source {
        protocol: ASYNC,
        heroku: Some(PARTNER_API),
    },
    why: "The access token from the exchange is the only way to set the config and finish the provision; the code expires in minutes and works once.",
    fix: "Exchange the code right after answering 202: grant_type=authorization_code, code and client_secret (HEROKU_CLIENT_SECRET), to the identity host beside callback_url.",
    examples: ex::ASYNC_PROVISION,
};

pub static CONFIG_SET: CheckDef = CheckDef {
    id: "async.config-set",
    title: "config set through the API",
    severity: Requirement,
    row: 35,
    rule: "After a 202, the provider sets the declared config vars with `PATCH <callback_url>/config` and its Bearer token.",
    source: Source {
        protocol: ASYNC,
        heroku: Some(ASYNC_BLOG),
    },
    why: "A 202 carries no config; the app gets its config vars only through this call, and Heroku deletes an add-on whose flow never completes.",
    fix: "PATCH {\"config\": [{\"name\": \"MYADDON_URL\", \"value\": \"…\"}]} to callback_url + /config with the access token.",
    examples: ex::ASYNC_PROVISION,
};

pub static PROVISIONED: CheckDef = CheckDef {
    id: "async.provisioned",
    title: "provision marked done",
    severity: Requirement,
    row: 46,
    rule: "After setting the config, the provider calls `POST <callback_url>/actions/provision`.",
    source: Source {
        protocol: ASYNC,
        heroku: Some(ASYNC_PROVISIONING),
    },
    why: "Until then the add-on stays \"provisioning\", and Heroku removes it after 12 hours.",
    fix: "POST to callback_url + /actions/provision with the access token once the resource is ready.",
    examples: ex::ASYNC_PROVISION,
};

pub const CHECKS: &[&CheckDef] = &[&GRANT_EXCHANGED, &CONFIG_SET, &PROVISIONED];
