//! Plan change (docs/protocol.md#plan-change): `PUT <base_url>/<id>`.

use super::examples as ex;
use super::pages::{BEST_PRACTICES, LEGACY_PARTNER_API, PARTNER_API, PROVIDER_API};
use super::Severity::{Advice, Requirement};
use super::{Anchor, CheckDef, Source};

const PLAN_CHANGE: Anchor = Anchor::PlanChange;

pub static AUTH_WRONG_PASSWORD: CheckDef = CheckDef {
    id: "planchange.auth-wrong-password",
    title: "wrong credentials get 401",
    severity: Requirement,
    row: 50,
    rule: "A plan change with the wrong Basic-auth password gets 401.",
    source: Source {
        protocol: PLAN_CHANGE,
        heroku: Some(PARTNER_API),
    },
    why: "Anyone who knows a resource id could otherwise change its plan, and its bill.",
    fix: "Authenticate PUT /heroku/resources/:id like provisioning: 401 unless user and password match the manifest.",
    examples: ex::BASIC_AUTH,
};

pub static AUTH_MISSING: CheckDef = CheckDef {
    id: "planchange.auth-missing",
    title: "no credentials get 401",
    severity: Requirement,
    row: 50,
    rule: "A plan change without credentials gets 401.",
    source: Source {
        protocol: PLAN_CHANGE,
        heroku: Some(PARTNER_API),
    },
    why: "Anyone who knows a resource id could otherwise change its plan, and its bill.",
    fix: "Require the Authorization header on PUT /heroku/resources/:id.",
    examples: ex::BASIC_AUTH,
};

pub static STATUS: CheckDef = CheckDef {
    id: "planchange.status",
    title: "response",
    severity: Requirement,
    row: 51,
    rule: "A plan change to a plan the add-on has (`--plan`, or the plan `kensa test planchange` names) answers 2xx within the 25 s Heroku waits.",
    source: Source {
        protocol: PLAN_CHANGE,
        heroku: Some(PROVIDER_API),
    },
    why: "Any other answer fails the user's `heroku addons:upgrade`.",
    fix: "Answer the PUT with 200 (optionally {\"config\", \"message\"}), or 202 and update the config through the Platform API when done.",
    examples: ex::PLAN_CHANGE,
};

pub static UNKNOWN_PLAN: CheckDef = CheckDef {
    id: "planchange.unknown-plan",
    title: "an unknown plan gets 422 with a message",
    severity: Advice,
    row: 52,
    rule: "A plan change to a plan the add-on does not have (kensa's made-up `foo` when no `--plan` is given) gets 422 with a JSON `message`.",
    source: Source {
        protocol: PLAN_CHANGE,
        heroku: Some(LEGACY_PARTNER_API),
    },
    why: "Heroku shows the message to the user; accepting a plan the add-on does not have is not wrong (Heroku only sends real ones), but hides a misconfigured plan list.",
    fix: "Answer 422 {\"message\": \"Unknown plan foo; plans: …\"} for plans you do not have; test a real change with --plan <plan>.",
    examples: ex::PLANS,
};

pub static WITHIN_3_SECONDS: CheckDef = CheckDef {
    id: "planchange.within-3-seconds",
    title: "answered within 3 s",
    severity: Advice,
    row: 40,
    rule: "A plan change answers within 3 seconds.",
    source: Source {
        protocol: Anchor::TimeoutsAndDelivery,
        heroku: Some(LEGACY_PARTNER_API),
    },
    why: "Heroku's user waits on the answer, and Heroku gives up after 25 s.",
    fix:
        "Answer 202 at once and update the config through the Platform API when the change is done.",
    examples: ex::PLAN_CHANGE,
};

pub static JSON: CheckDef = CheckDef {
    id: "planchange.json",
    title: "valid JSON",
    severity: Requirement,
    row: 22,
    rule: "A plan change answer with a body has a JSON object body.",
    source: Source {
        protocol: Anchor::Provisioning,
        heroku: Some(LEGACY_PARTNER_API),
    },
    why: "Heroku reads config and the user's message from the body.",
    fix: "Send a JSON object (or an empty body) with Content-Type: application/json.",
    examples: ex::PLAN_CHANGE,
};

pub static SAME_PLAN: CheckDef = CheckDef {
    id: "planchange.same-plan",
    title: "a change to the current plan is a no-op",
    severity: Advice,
    row: 53,
    rule: "A plan change to the plan the resource is already on answers 2xx and changes nothing.",
    source: Source {
        protocol: PLAN_CHANGE,
        heroku: Some(BEST_PRACTICES),
    },
    why: "Users repeat a change they believe failed, and Heroku redelivers; an error or a second migration on a repeat hurts both.",
    fix: "Compare the requested plan with the current one and answer 200 at once when they are equal.",
    examples: ex::PLAN_CHANGE,
};

pub static ASYNC_CONFIG: CheckDef = CheckDef {
    id: "planchange.async-config",
    title: "a 202 plan change updates the config",
    severity: Advice,
    row: 54,
    rule: "After answering a plan change with 202, the provider sets the new config with `PATCH <callback_url>/config`.",
    source: Source {
        protocol: PLAN_CHANGE,
        heroku: Some(BEST_PRACTICES),
    },
    why: "A 202 carries no config; without the PATCH the app keeps the old plan's config vars.",
    fix: "When the change is done, PATCH {\"config\": [{\"name\", \"value\"}]} to callback_url + /config with the resource's access token.",
    examples: ex::PLAN_CHANGE,
};

pub const CHECKS: &[&CheckDef] = &[
    &AUTH_WRONG_PASSWORD,
    &AUTH_MISSING,
    &STATUS,
    &UNKNOWN_PLAN,
    &WITHIN_3_SECONDS,
    &JSON,
    &SAME_PLAN,
    &ASYNC_CONFIG,
];
