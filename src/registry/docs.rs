//! `docs/checks.md`, rendered from the registry. A test compares the committed file with
//! this rendering; `UPDATE_DOCS=1 cargo test` rewrites it.

use std::fmt::Write;

use super::{CheckDef, ALL};

/// Section headings, for the id sections in the order of [`ALL`].
fn heading(section: &str) -> &'static str {
    match section {
        "manifest" => "Manifest",
        "provision" => "Provisioning",
        "config" => "Config vars (provisioning, plan change, asynchronous config)",
        "async" => "Asynchronous provisioning",
        "planchange" => "Plan change",
        "run" => "kensa run",
        "sso" => "Single sign-on",
        "deprovision" => "Deprovisioning",
        "heroku" => "Calls to Heroku (identity service, Platform API, log sink)",
        "template" => "kensa templates verify",
        _ => "Other checks",
    }
}

/// The anchor GitHub gives a heading: lower case, punctuation but `-` dropped, spaces as
/// dashes.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// A title as the docs show it: `N` for the count a result fills in.
fn shown_title(check: &CheckDef) -> String {
    check.title.replace("{n}", "N")
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The whole of `docs/checks.md`.
pub fn markdown() -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Checks\n\n\
         <!-- Generated from the check registry (src/registry/). Do not edit by hand: \
         `UPDATE_DOCS=1 cargo test --test cli checks_md` rewrites it. -->\n\n\
         Every check kensa can report, in the order `kensa test all` meets them. A check of a \
         **requirement** can fail (`[FAIL]`, exit status 1); a check of **advice** can only \
         warn (`[WARN]`), unless `--strict` makes warnings fail too. The severity is not \
         kensa's choice: it is the level of the check's row in the table \
         [Requirement or advice](protocol.md#requirement-or-advice) of protocol.md, named \
         here as \"row\". Ids are stable: `--format json` reports carry them as `\"id\"`, \
         `--format junit` reports as testcase names, and `kensa explain <id>` prints one \
         entry below. Each check cites the section of [protocol.md](protocol.md) that states \
         its rule and the public Heroku page the rule comes from. In a title, `N` stands for \
         a count the run fills in.\n"
    );
    let _ = writeln!(md, "| id | check | severity | row |\n|---|---|---|---:|");
    for check in ALL.iter() {
        let _ = writeln!(
            md,
            "| [`{id}`](#{anchor}) | {title} | {severity} | {row} |",
            id = check.id,
            anchor = slug(check.id),
            title = cell(&shown_title(check)),
            severity = check.severity.label(),
            row = check.row,
        );
    }
    let mut section = "";
    for check in ALL.iter() {
        if check.section() != section {
            section = check.section();
            let _ = writeln!(md, "\n## {}", heading(section));
        }
        entry(&mut md, check);
    }
    examples(&mut md);
    md
}

fn example_heading(topic: &str) -> String {
    format!("Example: {topic}")
}

/// Each example topic once, in every language it has, in the order the checks meet them.
fn examples(md: &mut String) {
    let _ = writeln!(
        md,
        "\n## Examples\n\nShort examples of a correct provider in each embedded template's \
         language, as `kensa explain <id>` prints them. They live in \
         `src/registry/examples/`, and a test parses each with its language's own tool."
    );
    let mut seen = Vec::new();
    for check in ALL.iter() {
        let Some(first) = check.examples.first() else {
            continue;
        };
        if seen.contains(&first.topic) {
            continue;
        }
        seen.push(first.topic);
        let users: Vec<String> = ALL
            .iter()
            .filter(|c| c.examples.first().is_some_and(|e| e.topic == first.topic))
            .map(|c| format!("[`{}`](#{})", c.id, slug(c.id)))
            .collect();
        let _ = writeln!(
            md,
            "\n### {}\n\nFor {}.",
            example_heading(first.topic),
            users.join(", ")
        );
        for example in check.examples {
            let _ = writeln!(
                md,
                "\n{}:\n\n```{}\n{}\n```",
                example.lang.label(),
                example.lang.fence(),
                example.code.trim_end()
            );
        }
    }
}

fn entry(md: &mut String, check: &CheckDef) {
    let source = check.source;
    let _ = writeln!(md, "\n### `{}`\n", check.id);
    let _ = writeln!(
        md,
        "**{}** · {} (protocol.md row {})\n",
        shown_title(check),
        check.severity.label(),
        check.row,
    );
    let _ = writeln!(md, "- **Rule:** {}", check.rule);
    let _ = writeln!(md, "- **Why:** {}", check.why);
    let _ = writeln!(md, "- **Fix:** {}", check.fix);
    let heroku = match source.heroku {
        Some(page) => format!(
            "[{}]({})",
            page.title.replace('[', "\\[").replace(']', "\\]"),
            page.url
        ),
        None => "kensa's own check, not a Heroku rule".to_owned(),
    };
    let _ = writeln!(
        md,
        "- **Source:** [protocol.md#{slug}](protocol.md#{slug}); {heroku}",
        slug = source.protocol.slug(),
    );
    if let Some(first) = check.examples.first() {
        let _ = writeln!(
            md,
            "- **Example:** [{topic}](#{anchor})",
            topic = first.topic,
            anchor = slug(&example_heading(first.topic)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_has_an_entry_and_a_row() {
        let md = markdown();
        for check in ALL.iter() {
            assert!(
                md.contains(&format!("\n### `{}`\n", check.id)),
                "{}",
                check.id
            );
            assert!(md.contains(&format!("| [`{}`](#{}) |", check.id, slug(check.id))));
        }
        assert!(!md.contains("{n}"));
    }

    #[test]
    fn anchors_follow_github() {
        assert_eq!(
            slug("provision.idempotent-uuid"),
            "provisionidempotent-uuid"
        );
        assert_eq!(slug("Plan change"), "plan-change");
    }
}
