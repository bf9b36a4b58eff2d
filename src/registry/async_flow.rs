//! The v3 asynchronous flow after a 202 (docs/protocol.md#asynchronous-provisioning), as
//! kensa's loopback Heroku observes it.

use super::pages::{ASYNC_PROVISIONING, PARTNER_API, PLATFORM_API_FOR_PARTNERS};
use super::Severity::Requirement;
use super::{Anchor, CheckDef, Source};

const ASYNC: Anchor = Anchor::AsynchronousProvisioning;

pub static GRANT_EXCHANGED: CheckDef = CheckDef {
    id: "async.grant-exchanged",
    title: "grant code exchanged",
    severity: Requirement,
    rule: "After a 202, the provider exchanges `oauth_grant.code` at the identity service (`POST /oauth/token`, with its client secret) before the grant expires.",
    source: Source {
        protocol: ASYNC,
        heroku: Some(PARTNER_API),
    },
    why: "The access token from the exchange is the only way to set the config and finish the provision; the code expires in minutes and works once.",
    fix: "Exchange the code right after answering 202: grant_type=authorization_code, code and client_secret (HEROKU_CLIENT_SECRET), to the identity host beside callback_url.",
    examples: &[],
};

pub static CONFIG_SET: CheckDef = CheckDef {
    id: "async.config-set",
    title: "config set through the API",
    severity: Requirement,
    rule: "After a 202, the provider sets the declared config vars with `PATCH <callback_url>/config`, Bearer token and the version 3 Accept header.",
    source: Source {
        protocol: ASYNC,
        heroku: Some(PLATFORM_API_FOR_PARTNERS),
    },
    why: "A 202 carries no config; the app gets its config vars only through this call.",
    fix: "PATCH {\"config\": [{\"name\": \"MYADDON_URL\", \"value\": \"…\"}]} to callback_url + /config with the access token.",
    examples: &[],
};

pub static PROVISIONED: CheckDef = CheckDef {
    id: "async.provisioned",
    title: "provision marked done",
    severity: Requirement,
    rule: "After setting the config, the provider calls `POST <callback_url>/actions/provision`.",
    source: Source {
        protocol: ASYNC,
        heroku: Some(ASYNC_PROVISIONING),
    },
    why: "Until then the add-on stays \"provisioning\", and Heroku removes it after 12 hours.",
    fix: "POST to callback_url + /actions/provision with the access token once the resource is ready.",
    examples: &[],
};

pub const CHECKS: &[&CheckDef] = &[&GRANT_EXCHANGED, &CONFIG_SET, &PROVISIONED];
