//! Provisioning (docs/protocol.md#provisioning): the answer to `POST <base_url>`, and what
//! at-least-once delivery demands of it.

use super::pages::{KENSA_GEM, LEGACY_PARTNER_API, PARTNER_API, PROVIDER_API};
use super::Severity::{Advice, Requirement};
use super::{Anchor, CheckDef, Source};

const PROVISIONING: Anchor = Anchor::Provisioning;

pub static STATUS: CheckDef = CheckDef {
    id: "provision.status",
    title: "response",
    severity: Requirement,
    rule: "A provision answers 200 or 201 (v3 also 202, asynchronous), within 25 s; slower than 3 s only warns.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(PARTNER_API),
    },
    why: "Any other status, or no answer in time, fails the user's `heroku addons:create`.",
    fix: "Answer the POST with 200 and {\"id\", \"config\"} (or 202 on v3 and finish asynchronously); move slow work out of the request.",
    examples: &[],
};

pub static JSON: CheckDef = CheckDef {
    id: "provision.json",
    title: "valid JSON",
    severity: Requirement,
    rule: "The provision answer's body is a JSON object.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(LEGACY_PARTNER_API),
    },
    why:
        "Heroku reads the resource id and config from the body; anything else fails the provision.",
    fix: "Send `Content-Type: application/json` and a JSON object body, also for errors.",
    examples: &[],
};

pub static ID: CheckDef = CheckDef {
    id: "provision.id",
    title: "id",
    severity: Requirement,
    rule: "The provision answer carries a non-empty `id`: the provider's id of the resource.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(PROVIDER_API),
    },
    why: "Heroku names the resource by this id in every later call (plan change, deprovision, sign-on).",
    fix: "Return {\"id\": \"<your resource id>\", …}; the uuid Heroku sent is a fine id.",
    examples: &[],
};

pub static LOG_DRAIN_URL: CheckDef = CheckDef {
    id: "provision.log-drain-url",
    title: "log_drain_url",
    severity: Requirement,
    rule: "With `requires: [\"syslog_drain\"]`, the answer carries a `log_drain_url` starting with https:// or syslog://.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(KENSA_GEM),
    },
    why: "Heroku drains the app's logs to that URL; without it the feature the manifest asks for does nothing.",
    fix: "Return \"log_drain_url\": \"syslog://logs.example.com:514\" (or an https:// URL), or drop syslog_drain from api.requires.",
    examples: &[],
};

pub static ID_NOT_DERIVED: CheckDef = CheckDef {
    id: "provision.id-not-derived",
    title: "id is not derived from heroku_id",
    severity: Requirement,
    rule: "v1: the resource id is the provider's own, not built from `heroku_id`.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(PROVIDER_API),
    },
    why: "An app can have several resources and move between owners; an id built from heroku_id collides and leaks the app's identity.",
    fix: "Generate ids of your own (a uuid, a database key).",
    examples: &[],
};

pub static AUTH_WRONG_PASSWORD: CheckDef = CheckDef {
    id: "provision.auth-wrong-password",
    title: "wrong credentials get 401",
    severity: Requirement,
    rule: "A provision with the wrong Basic-auth password gets 401.",
    source: Source {
        protocol: Anchor::Authentication,
        heroku: Some(PARTNER_API),
    },
    why: "Anyone who finds the URL could otherwise create resources on the provider's bill.",
    fix: "Compare the Basic-auth user and password with the manifest's id and api.password (in constant time) and answer 401 otherwise.",
    examples: &[],
};

pub static AUTH_MISSING: CheckDef = CheckDef {
    id: "provision.auth-missing",
    title: "no credentials get 401",
    severity: Requirement,
    rule: "A provision without credentials gets 401.",
    source: Source {
        protocol: Anchor::Authentication,
        heroku: Some(PARTNER_API),
    },
    why: "Anyone who finds the URL could otherwise create resources on the provider's bill.",
    fix: "Require the Authorization header on every /heroku/resources route and answer 401 without it.",
    examples: &[],
};

pub static IDEMPOTENT_UUID: CheckDef = CheckDef {
    id: "provision.idempotent-uuid",
    title: "same uuid gives the same id",
    severity: Requirement,
    rule: "A second delivery of the same provision (same uuid) answers like the first, with the same id.",
    source: Source {
        protocol: Anchor::TimeoutsAndDelivery,
        heroku: Some(PARTNER_API),
    },
    why: "Heroku delivers at least once; a provider that creates a resource per delivery leaks resources and bills twice.",
    fix: "Look the uuid up before creating; store it with a unique index and answer the existing resource.",
    examples: &[],
};

pub static NEW_UUID_NEW_ID: CheckDef = CheckDef {
    id: "provision.new-uuid-new-id",
    title: "a new uuid gives a new id",
    severity: Requirement,
    rule: "A provision with a new uuid creates a new resource, with an id of its own.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(PROVIDER_API),
    },
    why: "Heroku keys everything by the id; two resources sharing one get each other's plan changes and deprovisions.",
    fix: "Give every resource its own id, unique across the whole service.",
    examples: &[],
};

pub static REDELIVERY_ANSWERS: CheckDef = CheckDef {
    id: "provision.redelivery-answers",
    title: "{n} concurrent deliveries all answer",
    severity: Requirement,
    rule: "Copies of one provision arriving at the same moment (`--redeliver N`) all get a 2xx answer.",
    source: Source {
        protocol: Anchor::TimeoutsAndDelivery,
        heroku: Some(PARTNER_API),
    },
    why: "Heroku may redeliver while the first delivery is still running; an error on a copy fails the user's provision.",
    fix: "Let concurrent copies wait for, or find, the resource the first one creates instead of failing on the conflict.",
    examples: &[],
};

pub static REDELIVERY_ONE_RESOURCE: CheckDef = CheckDef {
    id: "provision.redelivery-one-resource",
    title: "{n} concurrent deliveries make one resource",
    severity: Requirement,
    rule: "Copies of one provision arriving at the same moment make exactly one resource.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(PARTNER_API),
    },
    why: "A check-then-create race turns one redelivered request into several resources.",
    fix: "Make the uuid unique in the database (a unique index) and answer the existing resource on the conflict.",
    examples: &[],
};

pub static CLEANUP: CheckDef = CheckDef {
    id: "provision.cleanup",
    title: "extra resources are deprovisioned ({n})",
    severity: Advice,
    rule: "The resources kensa's extra provisions created (new uuid, redeliveries, accepted bad credentials) are deprovisioned again.",
    source: Source {
        protocol: Anchor::HowKensaSimulatesHeroku,
        heroku: None,
    },
    why: "A test run should leave nothing behind in the provider's service.",
    fix: "Make DELETE <base_url>/<id> work for every resource you create; remove the ones named in the message by hand.",
    examples: &[],
};

pub static ASYNC_UNOBSERVABLE: CheckDef = CheckDef {
    id: "provision.async-unobservable",
    title: "asynchronous provisioning",
    severity: Advice,
    rule: "kensa can only follow the asynchronous flow against the test URLs, where its fake Heroku runs.",
    source: Source {
        protocol: Anchor::HowKensaSimulatesHeroku,
        heroku: None,
    },
    why: "A production service calls the real Heroku back, which kensa cannot observe; the flow goes unchecked.",
    fix: "Run the same test against your service's test URLs (without --production) to check the callbacks.",
    examples: &[],
};

pub const CHECKS: &[&CheckDef] = &[
    &STATUS,
    &JSON,
    &ID,
    &LOG_DRAIN_URL,
    &ID_NOT_DERIVED,
    &AUTH_WRONG_PASSWORD,
    &AUTH_MISSING,
    &IDEMPOTENT_UUID,
    &NEW_UUID_NEW_ID,
    &REDELIVERY_ANSWERS,
    &REDELIVERY_ONE_RESOURCE,
    &CLEANUP,
    &ASYNC_UNOBSERVABLE,
];
