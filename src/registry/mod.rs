//! Every check kensa can report, declared once: a stable id, the title reporters print, a
//! severity, the rule it enforces with its source, why the rule matters, how to fix a
//! failure and a short example in each embedded template's language. Checks record results
//! that point at their definition ([`CheckDef`]), so reporters, JSON (`"id"`), JUnit
//! (testcase names), `kensa explain` and `docs/checks.md` (see [`markdown`]) read the same
//! words.
//!
//! A check's severity is not kensa's opinion: it is the level of its row in the table
//! "Requirement or advice" of `docs/protocol.md` ([`CheckDef::row`]), and a test holds the
//! two together. A check only says whether its rule holds ([`Verdict::Pass`],
//! [`Verdict::Fail`], [`Verdict::Skip`]); [`Severity::settle`] alone decides what a broken
//! rule means: a failure for a requirement, a warning for advice, and with `--strict` a
//! failure for both.
//!
//! Ids are lowercase and dotted, section first (`manifest.regions-array`,
//! `provision.idempotent-uuid`, `sso.stale-timestamp`); they never change once released,
//! so CI history and scripts can rely on them. Titles may change wording.

pub mod async_flow;
pub mod config;
pub mod deprovision;
mod docs;
pub mod examples;
pub mod heroku;
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
pub use examples::{Example, Lang};
use pages::Page;

use crate::verdict::Verdict;

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

    /// What a check's own verdict means at this severity: a broken rule of advice only
    /// warns, and `strict` (`--strict`) makes every warning a failure. The one place where a
    /// warning is made, so that no check can fail for advice or warn for a requirement.
    pub fn settle(self, verdict: Verdict, strict: bool) -> Verdict {
        match (self, verdict) {
            (Severity::Advice, Verdict::Fail(why)) if !strict => Verdict::Warn(why),
            (_, Verdict::Warn(why)) if strict => Verdict::Fail(why),
            (_, verdict) => verdict,
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

/// One check kensa can report.
#[derive(Debug, PartialEq, Eq)]
pub struct CheckDef {
    /// Stable, lowercase, dotted, section first: `provision.idempotent-uuid`.
    pub id: &'static str,
    /// One line, printed after `Check`. `{n}` stands for the count a result carries
    /// (`{n} concurrent deliveries all answer`).
    pub title: &'static str,
    pub severity: Severity,
    /// The row of the table "Requirement or advice" in `docs/protocol.md` whose level is
    /// this check's severity.
    pub row: u16,
    /// The rule, stated as the provider must (or should) behave.
    pub rule: &'static str,
    pub source: Source,
    /// What breaks for the provider's users when the rule is broken.
    pub why: &'static str,
    /// What to change when the check fails.
    pub fix: &'static str,
    /// Code samples of a correct implementation: one per embedded template's language, or
    /// a manifest excerpt for the manifest's rules; empty for kensa's own notices.
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

    /// Where the rule comes from, in one line: the section and row of `docs/protocol.md`,
    /// then the Heroku page (or "kensa's own check"), as the reporters print it.
    pub fn source_line(&self) -> String {
        let heroku = self
            .source
            .heroku
            .map_or("kensa's own check".to_owned(), |p| {
                format!("{} <{}>", p.title, p.url)
            });
        format!(
            "{} (row {}); {heroku}",
            self.source.protocol.citation(),
            self.row
        )
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
    heroku::CHECKS,
    template::CHECKS,
];

/// Every check kensa can report, in the order a `kensa test all` meets them.
pub static ALL: LazyLock<Vec<&'static CheckDef>> =
    LazyLock::new(|| GROUPS.iter().flat_map(|g| g.iter().copied()).collect());

/// The check with this id.
pub fn find(id: &str) -> Option<&'static CheckDef> {
    ALL.iter().copied().find(|c| c.id == id)
}

/// The ids closest to a mistyped one, best first (at most three): those whose name after
/// the section is the word given, then those containing it, then those a few edits away.
pub fn closest(wanted: &str) -> Vec<&'static str> {
    let wanted = wanted.trim().to_ascii_lowercase();
    let name = |id: &'static str| id.split_once('.').map_or(id, |(_, n)| n);
    let mut scored: Vec<(usize, &'static str)> = ALL
        .iter()
        .filter_map(|c| {
            let score = if name(c.id) == wanted {
                0
            } else if c.id.contains(wanted.as_str()) && !wanted.is_empty() {
                1
            } else {
                let d = edit_distance(&wanted, c.id).min(edit_distance(&wanted, name(c.id)));
                if d > 3.max(wanted.len() / 4) {
                    return None;
                }
                1 + d
            };
            Some((score, c.id))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, id)| id).collect()
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
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
        "heroku",
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
            for example in c.examples {
                assert!(!example.code.trim().is_empty(), "{}", c.id);
            }
            // A check of the provider's code shows it in every template's language; a
            // manifest rule shows the manifest; kensa's own notices show nothing.
            let langs: Vec<Lang> = c.examples.iter().map(|e| e.lang).collect();
            let expected: &[Lang] = match (c.section(), c.source.heroku) {
                ("manifest", _) => &[Lang::Manifest],
                (_, None) if c.examples.is_empty() => &[],
                _ if langs == [Lang::Manifest] => &[Lang::Manifest],
                _ => &Lang::TEMPLATES,
            };
            assert_eq!(langs, expected, "{}: examples", c.id);
        }
    }

    #[test]
    fn advice_warns_and_strict_fails_everything_broken() {
        use Severity::{Advice, Requirement};
        let fail = || Verdict::Fail("x".into());
        let warn = || Verdict::Warn("x".into());
        assert_eq!(Advice.settle(fail(), false), warn());
        assert_eq!(Advice.settle(fail(), true), fail());
        assert_eq!(Requirement.settle(fail(), false), fail());
        assert_eq!(Requirement.settle(fail(), true), fail());
        // Settling twice changes nothing: the manifest rules are settled for `push` and
        // again by the recorder.
        assert_eq!(Advice.settle(Advice.settle(fail(), false), false), warn());
        assert_eq!(Advice.settle(Advice.settle(fail(), false), true), fail());
        for v in [Verdict::Pass, Verdict::Skip("s".into())] {
            for strict in [false, true] {
                assert_eq!(Advice.settle(v.clone(), strict), v);
                assert_eq!(Requirement.settle(v.clone(), strict), v);
            }
        }
    }

    #[test]
    fn mistyped_ids_find_their_neighbours() {
        assert_eq!(closest("future-timestamp")[0], "sso.future-timestamp");
        assert_eq!(closest("sso.future-timestmap")[0], "sso.future-timestamp");
        assert_eq!(
            closest("provision.idempotent")[0],
            "provision.idempotent-uuid"
        );
        assert!(closest("zzzzzzzzzzzzzzzzzzzzzzzzz").is_empty());
        assert!(
            closest("auth-missing").len() > 1,
            "{:?}",
            closest("auth-missing")
        );
        assert_eq!(edit_distance("kitten", "sitting"), 3);
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

    /// One row of docs/protocol.md's table "Requirement or advice".
    struct Row {
        level: String,
        /// The addresses the "where Heroku says it" column links to; empty for "—".
        urls: Vec<String>,
        section: String,
    }

    fn protocol_text() -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/protocol.md");
        std::fs::read_to_string(path).expect("docs/protocol.md")
    }

    /// The table's rows by number, link references resolved (`[Add-on Manifest][manifest]`
    /// through `[manifest]: https://…`).
    fn table(text: &str) -> std::collections::BTreeMap<u16, Row> {
        let refs: std::collections::BTreeMap<&str, &str> = text
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix('[')?;
                let (name, url) = rest.split_once("]: ")?;
                Some((name, url.trim()))
            })
            .collect();
        let link = regex::Regex::new(r"\]\[([^\]]+)\]|\]\((https://[^)]+)\)").unwrap();
        let heading = text
            .find("## Requirement or advice")
            .expect("the table's heading");
        text[heading..]
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.split(" | ").collect();
                let number = cells.first()?.strip_prefix("| ")?.trim().parse().ok()?;
                let urls = link
                    .captures_iter(cells[3])
                    .map(|c| match (c.get(1), c.get(2)) {
                        (Some(r), _) => refs
                            .get(r.as_str())
                            .expect("a defined reference")
                            .to_string(),
                        (_, Some(u)) => u.as_str().to_owned(),
                        _ => unreachable!(),
                    })
                    .collect();
                let section = cells[4]
                    .split("](#")
                    .nth(1)
                    .and_then(|s| s.split(')').next())
                    .unwrap_or("")
                    .to_owned();
                Some((
                    number,
                    Row {
                        level: cells[2].trim().to_owned(),
                        urls,
                        section,
                    },
                ))
            })
            .collect()
    }

    /// Severity follows the rule: each check's severity is the level of the table row it
    /// names, its Heroku source is one the row cites (none for a row of kensa's own), and
    /// it cites the row's section of the protocol.
    #[test]
    fn severity_is_the_level_of_the_row_in_the_protocol_table() {
        let rows = table(&protocol_text());
        assert!(rows.len() >= 75, "{} rows", rows.len());
        for c in ALL.iter() {
            let Some(row) = rows.get(&c.row) else {
                panic!("{}: docs/protocol.md has no row {}", c.id, c.row);
            };
            assert_eq!(row.level, c.severity.label(), "{}: row {}", c.id, c.row);
            assert_eq!(
                row.section,
                c.source.protocol.slug(),
                "{}: row {}",
                c.id,
                c.row
            );
            match c.source.heroku {
                Some(page) => assert!(
                    row.urls.iter().any(|u| u == page.url),
                    "{}: row {} does not cite {} (it cites {:?})",
                    c.id,
                    c.row,
                    page.url,
                    row.urls
                ),
                None => assert!(
                    row.urls.is_empty(),
                    "{}: row {} cites {:?}; name one of them",
                    c.id,
                    c.row,
                    row.urls
                ),
            }
        }
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
