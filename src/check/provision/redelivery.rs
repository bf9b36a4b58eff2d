//! `--redeliver N`: Heroku delivers at least once, so copies of one request may arrive at
//! the same moment; together they must still make one resource.

use super::request::ProvisionRequest;
use super::Extra;
use crate::check::answer::answer_id;
use crate::check::report::{Check, Recorder};
use crate::check::{check_of, Provider};
use crate::http::Payload;
use crate::registry::provision as checks;
use crate::verdict::Verdict;

/// Sends `request` `copies` times at once: each copy must be answered, and all of them
/// must name one resource. Returns every resource the copies made, for cleanup.
pub fn concurrent_deliveries(
    rec: &mut Recorder,
    provider: &Provider,
    url: &str,
    request: ProvisionRequest,
    copies: usize,
) -> Vec<Extra> {
    let uuid = request.uuid;
    let payload = Payload::Json(request.body);
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..copies)
            .map(|_| scope.spawn(|| provider.send("POST", url, provider.auth(), &payload)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a delivery thread does not panic"))
            .collect()
    });
    let slowest = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|x| x.elapsed))
        .max()
        .unwrap_or_default();
    let problems: Vec<String> = results
        .iter()
        .filter_map(|r| match r {
            Err(e) => Some(e.to_string()),
            Ok(x) if !x.is_success() => Some(format!("got {}", x.describe())),
            Ok(_) => None,
        })
        .collect();
    let answered = Verdict::check(problems.is_empty(), || {
        format!(
            "{} of {copies} copies failed: {}",
            problems.len(),
            problems.join("; ")
        )
    });
    rec.record(
        check_of(&checks::REDELIVERY_ANSWERS, "POST", url, slowest, answered).with_param(copies),
    );
    let mut ids: Vec<String> = results
        .iter()
        .filter_map(|r| answer_id(r.as_ref().ok()?))
        .collect();
    ids.sort();
    ids.dedup();
    let one = Verdict::check(ids.len() <= 1, || {
        format!(
            "one uuid sent {copies} times at once made {} resources ({}); make provisioning idempotent on uuid (e.g. a unique index)",
            ids.len(),
            ids.join(", ")
        )
    });
    rec.record(Check::new(&checks::REDELIVERY_ONE_RESOURCE, one).with_param(copies));
    ids.into_iter()
        .map(|id| Extra {
            id,
            uuid: Some(uuid.clone()),
        })
        .collect()
}
