//! Provisioning (docs/protocol.md#provisioning): the answer to `POST <base_url>`, and what
//! at-least-once delivery demands of it.

use super::examples as ex;
use super::pages::{KENSA_GEM, LEGACY_PARTNER_API, PARTNER_API, PROVIDER_API, SUDO_SANDWICH};
use super::Severity::{Advice, Requirement};
use super::{Anchor, CheckDef, Source};

const PROVISIONING: Anchor = Anchor::Provisioning;

pub static STATUS: CheckDef = CheckDef {
    id: "provision.status",
    title: "response",
    severity: Requirement,
    row: 20,
    rule: "A provision answers 200 or 201 (v3 also 202, asynchronous) within the 25 s Heroku waits, also to the v3 `Accept` header alone.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(PARTNER_API),
    },
    why: "Any other status, or no answer in time, fails the user's `heroku addons:create`; Heroku records a 406 to its Accept header as an error.",
    fix: "Answer the POST with 200 and {\"id\", \"config\"} (or 202 on v3 and finish asynchronously); accept `Accept: application/vnd.heroku-addons+json; version=3`.",
    examples: ex::PROVISION,
};

pub static WITHIN_3_SECONDS: CheckDef = CheckDef {
    id: "provision.within-3-seconds",
    title: "answered within 3 s",
    severity: Advice,
    row: 40,
    rule: "A provision answers within 3 seconds.",
    source: Source {
        protocol: Anchor::TimeoutsAndDelivery,
        heroku: Some(LEGACY_PARTNER_API),
    },
    why: "Heroku's user waits on the answer, and Heroku gives up after 25 s, a limit it may lower.",
    fix: "Move slow work out of the request: answer 202 and finish asynchronously (v3).",
    examples: ex::ASYNC_PROVISION,
};

pub static JSON: CheckDef = CheckDef {
    id: "provision.json",
    title: "valid JSON",
    severity: Requirement,
    row: 22,
    rule: "The provision answer's body is a JSON object.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(LEGACY_PARTNER_API),
    },
    why:
        "Heroku reads the resource id and config from the body; anything else fails the provision.",
    fix: "Send `Content-Type: application/json` and a JSON object body, also for errors.",
    examples: ex::PROVISION,
};

pub static ID: CheckDef = CheckDef {
    id: "provision.id",
    title: "id",
    severity: Requirement,
    row: 23,
    rule: "The provision answer carries a non-empty `id`: the provider's id of the resource.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(PROVIDER_API),
    },
    why: "Heroku names the resource by this id in every later call (plan change, deprovision, sign-on).",
    fix: "Return {\"id\": \"<your resource id>\", …}; the uuid Heroku sent is a fine id.",
    examples: ex::PROVISION,
};

pub static UNKNOWN_FIELD: CheckDef = CheckDef {
    id: "provision.unknown-field",
    title: "an unknown request field is accepted",
    severity: Requirement,
    row: 28,
    rule: "A provision request carrying a field no document names is served like one without it.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(PARTNER_API),
    },
    why: "Heroku adds fields to its requests without notice (\"such requests should be treated as valid\"); a provider that refuses them stops provisioning the day Heroku adds one.",
    fix: "Read the fields you need and ignore the rest: no strict schema, no deny-unknown-fields on the request body.",
    examples: ex::UNKNOWN_FIELDS,
};

pub static NO_CONFIG_ON_202: CheckDef = CheckDef {
    id: "provision.no-config-on-202",
    title: "a 202 answer carries no config",
    severity: Advice,
    row: 36,
    rule: "An asynchronous (202) provision answer carries no `config`: the config arrives later through the Platform API.",
    source: Source {
        protocol: Anchor::AsynchronousProvisioning,
        heroku: Some(SUDO_SANDWICH),
    },
    why: "Heroku sets config from the PATCH after a 202; config in the answer is either not ready yet or set twice.",
    fix: "Answer 202 with {\"id\", \"message\"} only, and PATCH <callback_url>/config once the resource is ready.",
    examples: ex::ASYNC_PROVISION,
};

pub static LOG_DRAIN_URL: CheckDef = CheckDef {
    id: "provision.log-drain-url",
    title: "log_drain_url",
    severity: Requirement,
    row: 34,
    rule: "With `requires: [\"syslog_drain\"]`, the answer carries a `log_drain_url` starting with https:// or syslog://.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(KENSA_GEM),
    },
    why: "Heroku drains the app's logs to that URL; without it the feature the manifest asks for does nothing.",
    fix: "Return \"log_drain_url\": \"syslog://logs.example.com:514\" (or an https:// URL), or drop syslog_drain from api.requires.",
    examples: ex::LOG_DRAIN,
};

pub static ID_NOT_DERIVED: CheckDef = CheckDef {
    id: "provision.id-not-derived",
    title: "id is not derived from heroku_id",
    severity: Requirement,
    row: 25,
    rule: "v1: the resource id is the provider's own, not built from `heroku_id`.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(PROVIDER_API),
    },
    why: "An app can have several resources and move between owners; an id built from heroku_id collides and leaks the app's identity.",
    fix: "Generate ids of your own (a uuid, a database key).",
    examples: ex::OWN_IDS,
};

pub static AUTH_WRONG_PASSWORD: CheckDef = CheckDef {
    id: "provision.auth-wrong-password",
    title: "wrong credentials get 401",
    severity: Requirement,
    row: 18,
    rule: "A provision with the wrong Basic-auth password gets 401.",
    source: Source {
        protocol: Anchor::Authentication,
        heroku: Some(PARTNER_API),
    },
    why: "Anyone who finds the URL could otherwise create resources on the provider's bill.",
    fix: "Compare the Basic-auth user and password with the manifest's id and api.password (in constant time) and answer 401 otherwise.",
    examples: ex::BASIC_AUTH,
};

pub static AUTH_MISSING: CheckDef = CheckDef {
    id: "provision.auth-missing",
    title: "no credentials get 401",
    severity: Requirement,
    row: 19,
    rule: "A provision without credentials gets 401.",
    source: Source {
        protocol: Anchor::Authentication,
        heroku: Some(PARTNER_API),
    },
    why: "Anyone who finds the URL could otherwise create resources on the provider's bill.",
    fix: "Require the Authorization header on every /heroku/resources route and answer 401 without it.",
    examples: ex::BASIC_AUTH,
};

pub static IDEMPOTENT_UUID: CheckDef = CheckDef {
    id: "provision.idempotent-uuid",
    title: "same uuid gives the same resource",
    severity: Requirement,
    row: 26,
    rule: "A second delivery of the same provision (same uuid) answers with the same id, and does not exchange the grant or set config a second time.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(PARTNER_API),
    },
    why: "Heroku delivers at least once; a provider that creates a resource per delivery leaks resources and bills twice, even when it hands back the same id.",
    fix: "Look the uuid up before creating; store it with a unique index and answer the existing resource without redoing its setup.",
    examples: ex::IDEMPOTENT,
};

pub static NEW_UUID_NEW_ID: CheckDef = CheckDef {
    id: "provision.new-uuid-new-id",
    title: "a new uuid gives a new id",
    severity: Requirement,
    row: 24,
    rule: "A provision with a new uuid creates a new resource, with an id of its own.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(PROVIDER_API),
    },
    why: "Heroku keys everything by the id; two resources sharing one get each other's plan changes and deprovisions.",
    fix: "Give every resource its own id, unique across the whole service.",
    examples: ex::OWN_IDS,
};

pub static REDELIVERY_ANSWERS: CheckDef = CheckDef {
    id: "provision.redelivery-answers",
    title: "{n} concurrent deliveries all answer",
    severity: Requirement,
    row: 27,
    rule: "Copies of one provision arriving at the same moment (`--redeliver N`) all get a 2xx answer.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(PARTNER_API),
    },
    why: "Heroku may redeliver while the first delivery is still running; an error on a copy fails the user's provision.",
    fix: "Let concurrent copies wait for, or find, the resource the first one creates instead of failing on the conflict.",
    examples: ex::IDEMPOTENT,
};

pub static REDELIVERY_ONE_RESOURCE: CheckDef = CheckDef {
    id: "provision.redelivery-one-resource",
    title: "{n} concurrent deliveries make one resource",
    severity: Requirement,
    row: 27,
    rule: "Copies of one provision arriving at the same moment make exactly one resource.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(PARTNER_API),
    },
    why: "A check-then-create race turns one redelivered request into several resources.",
    fix: "Make the uuid unique in the database (a unique index) and answer the existing resource on the conflict.",
    examples: ex::IDEMPOTENT,
};

pub static UNKNOWN_PLAN: CheckDef = CheckDef {
    id: "provision.unknown-plan",
    title: "an unknown plan gets 422 with a message",
    severity: Advice,
    row: 37,
    rule: "A provision for a plan the add-on does not have gets 422 with a JSON `message` the user will see.",
    source: Source {
        protocol: PROVISIONING,
        heroku: Some(LEGACY_PARTNER_API),
    },
    why: "Heroku only sends plans the add-on has, so accepting another is not wrong; but a provider that knows its plans catches a misconfigured plan list before a user does.",
    fix: "Keep the list of your plans; answer 422 {\"message\": \"Unknown plan …; plans: …\"} for any other.",
    examples: ex::PLANS,
};

pub static CLEANUP: CheckDef = CheckDef {
    id: "provision.cleanup",
    title: "extra resources are deprovisioned ({n})",
    severity: Advice,
    row: 74,
    rule: "The resources kensa's extra provisions created (new uuid, unknown plan, redeliveries, accepted bad credentials) are deprovisioned again.",
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
    row: 75,
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
    &WITHIN_3_SECONDS,
    &JSON,
    &ID,
    &UNKNOWN_FIELD,
    &NO_CONFIG_ON_202,
    &LOG_DRAIN_URL,
    &ID_NOT_DERIVED,
    &AUTH_WRONG_PASSWORD,
    &AUTH_MISSING,
    &IDEMPOTENT_UUID,
    &NEW_UUID_NEW_ID,
    &REDELIVERY_ANSWERS,
    &REDELIVERY_ONE_RESOURCE,
    &UNKNOWN_PLAN,
    &CLEANUP,
    &ASYNC_UNOBSERVABLE,
];
