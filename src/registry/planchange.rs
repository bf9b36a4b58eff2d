//! Plan change (docs/protocol.md#plan-change): `PUT <base_url>/<id>`.

use super::pages::{LEGACY_PARTNER_API, PARTNER_API, PROVIDER_API};
use super::Severity::Requirement;
use super::{Anchor, CheckDef, Source};

pub static AUTH_WRONG_PASSWORD: CheckDef = CheckDef {
    id: "planchange.auth-wrong-password",
    title: "wrong credentials get 401",
    severity: Requirement,
    rule: "A plan change with the wrong Basic-auth password gets 401.",
    source: Source {
        protocol: Anchor::Authentication,
        heroku: Some(PARTNER_API),
    },
    why: "Anyone who knows a resource id could otherwise change its plan, and its bill.",
    fix: "Authenticate PUT /heroku/resources/:id like provisioning: 401 unless user and password match the manifest.",
    examples: &[],
};

pub static AUTH_MISSING: CheckDef = CheckDef {
    id: "planchange.auth-missing",
    title: "no credentials get 401",
    severity: Requirement,
    rule: "A plan change without credentials gets 401.",
    source: Source {
        protocol: Anchor::Authentication,
        heroku: Some(PARTNER_API),
    },
    why: "Anyone who knows a resource id could otherwise change its plan, and its bill.",
    fix: "Require the Authorization header on PUT /heroku/resources/:id.",
    examples: &[],
};

pub static STATUS: CheckDef = CheckDef {
    id: "planchange.status",
    title: "response",
    severity: Requirement,
    rule: "A plan change answers 2xx, within 25 s; slower than 3 s only warns.",
    source: Source {
        protocol: Anchor::PlanChange,
        heroku: Some(PROVIDER_API),
    },
    why: "Any other answer fails the user's `heroku addons:upgrade`.",
    fix: "Answer the PUT with 200 (optionally {\"config\", \"message\"}); refuse a plan you cannot serve with 422 and a message.",
    examples: &[],
};

pub static JSON: CheckDef = CheckDef {
    id: "planchange.json",
    title: "valid JSON",
    severity: Requirement,
    rule: "A plan change answer with a body has a JSON object body.",
    source: Source {
        protocol: Anchor::PlanChange,
        heroku: Some(LEGACY_PARTNER_API),
    },
    why: "Heroku reads config and the user's message from the body.",
    fix: "Send a JSON object (or an empty body) with Content-Type: application/json.",
    examples: &[],
};

pub const CHECKS: &[&CheckDef] = &[&AUTH_WRONG_PASSWORD, &AUTH_MISSING, &STATUS, &JSON];
