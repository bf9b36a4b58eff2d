//! Deprovision (docs/protocol.md#deprovisioning): `DELETE <base_url>/<id>`, its repeat,
//! and what a deprovisioned uuid means afterwards.

use super::examples as ex;
use super::pages::{ASYNC_DEPROVISIONING, LEGACY_PARTNER_API, PARTNER_API, PROVIDER_API};
use super::Severity::{Advice, Requirement};
use super::{Anchor, CheckDef, Source};

const DEPROVISIONING: Anchor = Anchor::Deprovisioning;

pub static AUTH_WRONG_PASSWORD: CheckDef = CheckDef {
    id: "deprovision.auth-wrong-password",
    title: "wrong credentials get 401",
    severity: Requirement,
    row: 56,
    rule: "A deprovision with the wrong Basic-auth password gets 401.",
    source: Source {
        protocol: DEPROVISIONING,
        heroku: Some(PARTNER_API),
    },
    why: "Anyone who knows a resource id could otherwise delete a customer's data.",
    fix: "Authenticate DELETE /heroku/resources/:id like provisioning: 401 unless user and password match the manifest.",
    examples: ex::BASIC_AUTH,
};

pub static AUTH_MISSING: CheckDef = CheckDef {
    id: "deprovision.auth-missing",
    title: "no credentials get 401",
    severity: Requirement,
    row: 56,
    rule: "A deprovision without credentials gets 401.",
    source: Source {
        protocol: DEPROVISIONING,
        heroku: Some(PARTNER_API),
    },
    why: "Anyone who knows a resource id could otherwise delete a customer's data.",
    fix: "Require the Authorization header on DELETE /heroku/resources/:id.",
    examples: ex::BASIC_AUTH,
};

pub static STATUS: CheckDef = CheckDef {
    id: "deprovision.status",
    title: "response",
    severity: Requirement,
    row: 57,
    rule: "A deprovision answers 200 or 204 (v3 also 202, asynchronous) within the 25 s Heroku waits.",
    source: Source {
        protocol: DEPROVISIONING,
        heroku: Some(PROVIDER_API),
    },
    why: "Heroku retries a failed deprovision and cannot remove the add-on from the app until it succeeds.",
    fix: "Delete the resource and answer 200 or 204 (or 202 on v3, then call actions/deprovision).",
    examples: ex::DEPROVISION,
};

pub static WITHIN_3_SECONDS: CheckDef = CheckDef {
    id: "deprovision.within-3-seconds",
    title: "answered within 3 s",
    severity: Advice,
    row: 40,
    rule: "A deprovision answers within 3 seconds.",
    source: Source {
        protocol: Anchor::TimeoutsAndDelivery,
        heroku: Some(LEGACY_PARTNER_API),
    },
    why: "Heroku gives up after 25 s and delivers the call again.",
    fix: "Answer 202 at once, remove the resource in the background and then call actions/deprovision (v3).",
    examples: ex::DEPROVISION,
};

pub static ASYNC_DONE: CheckDef = CheckDef {
    id: "deprovision.async-done",
    title: "deprovision marked done",
    severity: Requirement,
    row: 58,
    rule: "After answering a deprovision with 202, the provider calls `POST <callback_url>/actions/deprovision`.",
    source: Source {
        protocol: DEPROVISIONING,
        heroku: Some(ASYNC_DEPROVISIONING),
    },
    why: "Until then Heroku keeps the add-on in a deprovisioning state.",
    fix: "POST to callback_url + /actions/deprovision with the add-on's access token once the resource is gone.",
    examples: ex::DEPROVISION,
};

pub static REPEAT: CheckDef = CheckDef {
    id: "deprovision.repeat",
    title: "a second DELETE gets 2xx, 404 or 410",
    severity: Requirement,
    row: 59,
    rule: "A repeated deprovision of the same resource answers 2xx, 404 or 410, never 5xx.",
    source: Source {
        protocol: DEPROVISIONING,
        heroku: Some(PARTNER_API),
    },
    why: "Heroku delivers every call at least once and endpoints MUST respond idempotently; an error to the repeat keeps the add-on stuck in deprovisioning.",
    fix: "Answer a DELETE for a resource you no longer have with 404 or 410 (or 204), not an exception.",
    examples: ex::DEPROVISION,
};

pub static UUID_GONE: CheckDef = CheckDef {
    id: "deprovision.uuid-gone",
    title: "provisioning the deprovisioned uuid again gets 410",
    severity: Advice,
    row: 39,
    rule: "A provision for a uuid the provider already deprovisioned is refused with 410 Gone instead of making a resource again.",
    source: Source {
        protocol: Anchor::Provisioning,
        heroku: None,
    },
    why: "A late redelivery of the original provision would otherwise bring a deleted resource back, unbilled and unknown to Heroku.",
    fix: "Keep the uuids of deprovisioned resources (a tombstone row) and answer 410 {\"message\"} when one comes again.",
    examples: ex::GONE,
};

pub const CHECKS: &[&CheckDef] = &[
    &AUTH_WRONG_PASSWORD,
    &AUTH_MISSING,
    &STATUS,
    &WITHIN_3_SECONDS,
    &ASYNC_DONE,
    &REPEAT,
    &UUID_GONE,
];
