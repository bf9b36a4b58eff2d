//! Deprovision (docs/protocol.md#deprovisioning): `DELETE <base_url>/<id>`.

use super::pages::{ASYNC_DEPROVISIONING, PARTNER_API, PROVIDER_API};
use super::Severity::Requirement;
use super::{Anchor, CheckDef, Source};

pub static AUTH_WRONG_PASSWORD: CheckDef = CheckDef {
    id: "deprovision.auth-wrong-password",
    title: "wrong credentials get 401",
    severity: Requirement,
    rule: "A deprovision with the wrong Basic-auth password gets 401.",
    source: Source {
        protocol: Anchor::Authentication,
        heroku: Some(PARTNER_API),
    },
    why: "Anyone who knows a resource id could otherwise delete a customer's data.",
    fix: "Authenticate DELETE /heroku/resources/:id like provisioning: 401 unless user and password match the manifest.",
    examples: &[],
};

pub static AUTH_MISSING: CheckDef = CheckDef {
    id: "deprovision.auth-missing",
    title: "no credentials get 401",
    severity: Requirement,
    rule: "A deprovision without credentials gets 401.",
    source: Source {
        protocol: Anchor::Authentication,
        heroku: Some(PARTNER_API),
    },
    why: "Anyone who knows a resource id could otherwise delete a customer's data.",
    fix: "Require the Authorization header on DELETE /heroku/resources/:id.",
    examples: &[],
};

pub static STATUS: CheckDef = CheckDef {
    id: "deprovision.status",
    title: "response",
    severity: Requirement,
    rule: "A deprovision answers 200 or 204 (v3 also 202, asynchronous), within 25 s; slower than 3 s only warns.",
    source: Source {
        protocol: Anchor::Deprovisioning,
        heroku: Some(PROVIDER_API),
    },
    why: "Heroku retries a failed deprovision and cannot remove the add-on from the app until it succeeds.",
    fix: "Delete the resource and answer 200 or 204 (or 202 on v3, then call actions/deprovision).",
    examples: &[],
};

pub static ASYNC_DONE: CheckDef = CheckDef {
    id: "deprovision.async-done",
    title: "deprovision marked done",
    severity: Requirement,
    rule: "After answering a deprovision with 202, the provider calls `POST <callback_url>/actions/deprovision`.",
    source: Source {
        protocol: Anchor::Deprovisioning,
        heroku: Some(ASYNC_DEPROVISIONING),
    },
    why: "Until then Heroku keeps the add-on in a deprovisioning state.",
    fix: "POST to callback_url + /actions/deprovision with the add-on's access token once the resource is gone.",
    examples: &[],
};

pub const CHECKS: &[&CheckDef] = &[&AUTH_WRONG_PASSWORD, &AUTH_MISSING, &STATUS, &ASYNC_DONE];
