//! What each plan allows. The names must match the plans of the add-on in Heroku's Partner
//! Portal (`kensa test` provisions `test`; any plan not listed gets 422, as kensa's made-up
//! plan-change target `foo` does, and `kensa test all --plan premium` changes to a real one).

use serde_json::{Value, json};

pub struct Plan {
    pub name: &'static str,
    /// Calls to the resource API (`GET /api/resource`) the resource may make in all; past it,
    /// 429. A real add-on meters what it sells, per billing period.
    pub api_calls: i64,
}

/// Resources on this plan are provisioned asynchronously (v3): `202` first, then the worker
/// calls Heroku back (src/worker.rs). Every other plan is provisioned at once.
pub const ASYNC: &str = "async";

pub const PLANS: &[Plan] = &[
    Plan {
        name: "test",
        api_calls: 1_000,
    },
    Plan {
        name: "basic",
        api_calls: 10_000,
    },
    Plan {
        name: "premium",
        api_calls: 1_000_000,
    },
    Plan {
        name: ASYNC,
        api_calls: 1_000,
    },
];

pub fn find(name: &str) -> Option<&'static Plan> {
    PLANS.iter().find(|plan| plan.name == name)
}

impl Plan {
    pub fn limits(&self) -> Value {
        json!({ "api_calls": self.api_calls })
    }

    pub fn is_async(&self) -> bool {
        self.name == ASYNC
    }
}

/// For a message naming the plans there are.
pub fn names() -> String {
    PLANS
        .iter()
        .map(|plan| plan.name)
        .collect::<Vec<_>>()
        .join(", ")
}
