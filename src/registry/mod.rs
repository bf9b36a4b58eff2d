//! Every check kensa can report, declared once: a stable id, the title reporters print, a
//! severity, the rule it enforces with its source, why the rule matters and how to fix a
//! failure. Checks record results that point at their definition ([`CheckDef`]), so
//! reporters, JSON (`"id"`), JUnit (testcase names) and `docs/checks.md` (see [`markdown`])
//! read the same words.
//!
//! Ids are lowercase and dotted, section first (`manifest.regions-array`,
//! `provision.idempotent-uuid`, `sso.stale-timestamp`); they never change once released,
//! so CI history and scripts can rely on them. Titles may change wording.

pub mod async_flow;
pub mod config;
pub mod deprovision;
mod docs;
pub mod manifest;
pub mod pages;
pub mod planchange;
pub mod provision;
pub mod run;
pub mod sso;
pub mod template;

use std::borrow::Cow;
use std::sync::LazyLock;

pub use docs::markdown;
use pages::Page;

/// What a failed check means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Heroku states it as a must, or its call fails otherwise: the check can FAIL.
    Requirement,
    /// A recommendation or hardening: the check can only WARN.
    Advice,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Requirement => "requirement",
            Severity::Advice => "advice",
        }
    }
}

/// A `##` section of `docs/protocol.md`, the protocol reference that ships with kensa.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Manifest,
    Authentication,
    Provisioning,
    AsynchronousProvisioning,
    PlanChange,
    Deprovisioning,
    SingleSignOn,
    PlatformApiForPartners,
    Logs,
    ManifestSync,
    TimeoutsAndDelivery,
    HowKensaSimulatesHeroku,
    RequirementOrAdvice,
    Sources,
}

impl Anchor {
    pub const ALL: [Anchor; 14] = [
        Anchor::Manifest,
        Anchor::Authentication,
        Anchor::Provisioning,
        Anchor::AsynchronousProvisioning,
        Anchor::PlanChange,
        Anchor::Deprovisioning,
        Anchor::SingleSignOn,
        Anchor::PlatformApiForPartners,
        Anchor::Logs,
        Anchor::ManifestSync,
        Anchor::TimeoutsAndDelivery,
        Anchor::HowKensaSimulatesHeroku,
        Anchor::RequirementOrAdvice,
        Anchor::Sources,
    ];

    /// The anchor of the section's heading, as Markdown renderers derive it.
    pub fn slug(self) -> &'static str {
        match self {
            Anchor::Manifest => "manifest",
            Anchor::Authentication => "authentication",
            Anchor::Provisioning => "provisioning",
            Anchor::AsynchronousProvisioning => "asynchronous-provisioning",
            Anchor::PlanChange => "plan-change",
            Anchor::Deprovisioning => "deprovisioning",
            Anchor::SingleSignOn => "single-sign-on",
            Anchor::PlatformApiForPartners => "platform-api-for-partners",
            Anchor::Logs => "logs",
            Anchor::ManifestSync => "manifest-sync",
            Anchor::TimeoutsAndDelivery => "timeouts-and-delivery",
            Anchor::HowKensaSimulatesHeroku => "how-kensa-simulates-heroku",
            Anchor::RequirementOrAdvice => "requirement-or-advice",
            Anchor::Sources => "sources",
        }
    }

    /// `docs/protocol.md#<slug>`, as the source tree cites it.
    pub fn citation(self) -> String {
        format!("docs/protocol.md#{}", self.slug())
    }
}

/// Where a rule comes from: the section of `docs/protocol.md` that states it, and the
/// public Heroku page it is read from (`None`: kensa's own check, not a Heroku rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub protocol: Anchor,
    pub heroku: Option<Page>,
}

/// A code sample for `kensa explain`: the language (a Markdown fence tag) and the code.
pub type Example = (&'static str, &'static str);

/// One check kensa can report.
#[derive(Debug, PartialEq, Eq)]
pub struct CheckDef {
    /// Stable, lowercase, dotted, section first: `provision.idempotent-uuid`.
    pub id: &'static str,
    /// One line, printed after `Check`. `{n}` stands for the count a result carries
    /// (`{n} concurrent deliveries all answer`).
    pub title: &'static str,
    pub severity: Severity,
    /// The rule, stated as the provider must (or should) behave.
    pub rule: &'static str,
    pub source: Source,
    /// What breaks for the provider's users when the rule is broken.
    pub why: &'static str,
    /// What to change when the check fails.
    pub fix: &'static str,
    /// Code samples of a correct implementation; may be empty.
    pub examples: &'static [Example],
}

impl CheckDef {
    /// The title with `{n}` replaced by `param`.
    pub fn title_with(&self, param: Option<&str>) -> Cow<'static, str> {
        match param {
            Some(p) if self.title.contains("{n}") => Cow::Owned(self.title.replace("{n}", p)),
            _ => Cow::Borrowed(self.title),
        }
    }

    /// The section the id names: `provision` for `provision.status`.
    pub fn section(&self) -> &'static str {
        self.id.split('.').next().unwrap_or(self.id)
    }
}

/// Every group of checks, in the order a `kensa test all` meets them; last the steps
/// `kensa templates verify` runs around it.
const GROUPS: &[&[&CheckDef]] = &[
    manifest::CHECKS,
    provision::CHECKS,
    config::CHECKS,
    async_flow::CHECKS,
    planchange::CHECKS,
    run::CHECKS,
    sso::CHECKS,
    deprovision::CHECKS,
    template::CHECKS,
];

/// Every check kensa can report, in the order a `kensa test all` meets them.
pub static ALL: LazyLock<Vec<&'static CheckDef>> =
    LazyLock::new(|| GROUPS.iter().flat_map(|g| g.iter().copied()).collect());

/// The check with this id.
pub fn find(id: &str) -> Option<&'static CheckDef> {
    ALL.iter().copied().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Sections an id may start with: where in a run the check is made.
    const SECTIONS: &[&str] = &[
        "manifest",
        "provision",
        "config",
        "async",
        "planchange",
        "sso",
        "deprovision",
        "run",
        "template",
    ];

    fn well_formed(id: &str) -> bool {
        let mut parts = id.split('.');
        let section = parts.next().unwrap_or("");
        let rest: Vec<&str> = parts.collect();
        let word = |w: &str| {
            !w.is_empty()
                && !w.starts_with('-')
                && !w.ends_with('-')
                && !w.contains("--")
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        SECTIONS.contains(&section) && !rest.is_empty() && rest.iter().all(|w| word(w))
    }

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = BTreeSet::new();
        for check in ALL.iter() {
            assert!(
                well_formed(check.id),
                "{} is not section.dotted-words",
                check.id
            );
            assert!(seen.insert(check.id), "{} is declared twice", check.id);
            assert_eq!(find(check.id), Some(*check));
        }
        assert_eq!(find("no.such-check"), None);
        assert!(!well_formed("provision"));
        assert!(!well_formed("Provision.status"));
        assert!(!well_formed("provision.-status"));
        assert!(!well_formed("teleport.status"));
    }

    #[test]
    fn every_definition_is_complete() {
        for c in ALL.iter() {
            for (field, text) in [
                ("title", c.title),
                ("rule", c.rule),
                ("why", c.why),
                ("fix", c.fix),
            ] {
                assert!(!text.trim().is_empty(), "{}: empty {field}", c.id);
                assert!(!text.contains('\n'), "{}: {field} is one line", c.id);
            }
            assert!(c.title.matches("{n}").count() <= 1, "{}", c.id);
            assert!(!c.title.replace("{n}", "").contains(['{', '}']), "{}", c.id);
            if let Some(page) = c.source.heroku {
                assert!(page.url.starts_with("https://"), "{}: {}", c.id, page.url);
            }
            for (lang, code) in c.examples {
                assert!(!lang.is_empty() && !code.trim().is_empty(), "{}", c.id);
            }
        }
    }

    #[test]
    fn titles_fill_their_count() {
        let c = &provision::REDELIVERY_ANSWERS;
        assert_eq!(
            c.title_with(Some("5")),
            "5 concurrent deliveries all answer"
        );
        assert_eq!(
            manifest::API_OBJECT.title_with(Some("5")),
            "api is an object"
        );
        assert_eq!(c.section(), "provision");
    }

    /// Each anchor names a `##` heading of docs/protocol.md, and each Heroku page the
    /// registry cites is one the protocol's sources list.
    #[test]
    fn sources_exist_in_the_protocol_reference() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/protocol.md");
        let text = std::fs::read_to_string(path).expect("docs/protocol.md");
        let slugs: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("## "))
            .map(|h| {
                h.trim()
                    .to_lowercase()
                    .chars()
                    .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
                    .collect::<String>()
                    .replace(' ', "-")
            })
            .collect();
        for anchor in Anchor::ALL {
            assert!(
                slugs.iter().any(|s| s == anchor.slug()),
                "docs/protocol.md has no ## heading for #{}",
                anchor.slug()
            );
        }
        for c in ALL.iter() {
            if let Some(page) = c.source.heroku {
                assert!(
                    text.contains(page.url),
                    "{}: {} is not in docs/protocol.md",
                    c.id,
                    page.url
                );
            }
        }
    }
}
