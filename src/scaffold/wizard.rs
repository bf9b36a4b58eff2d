//! The `init`/`create` wizard (dialoguer). It asks for everything flags (or recorded
//! answers) did not give, suggesting the defaults, and only runs when a person is at a
//! terminal: see [`crate::prompt::interactive`]. Every check's failure is said in words,
//! and the prompt asks again. Ctrl-C ends kensa with the terminal restored.

use anyhow::Result;
use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, MultiSelect, Password, Select};
use serde_json::Value;

use super::spec::{VarSpec, VarType};
use crate::manifest::{SsoMethod, KNOWN_REGIONS};
use crate::{prompt, slug};

pub struct Wizard {
    theme: ColorfulTheme,
}

impl Default for Wizard {
    fn default() -> Self {
        Wizard {
            theme: prompt::theme(),
        }
    }
}

impl Wizard {
    /// A select list of `(name, description)`; returns the chosen name.
    pub fn template(&self, choices: &[(String, String)]) -> Result<String> {
        let items: Vec<String> = choices
            .iter()
            .map(|(name, desc)| format!("{name:<10} {desc}"))
            .collect();
        let index = prompt::answer(
            Select::with_theme(&self.theme)
                .with_prompt("Template")
                .items(&items)
                .default(0)
                .interact(),
            "template prompt",
        )?;
        Ok(choices[index].0.clone())
    }

    pub fn directory(&self) -> Result<String> {
        prompt::answer(
            Input::with_theme(&self.theme)
                .with_prompt("Project directory")
                .validate_with(|s: &String| {
                    if s.trim().is_empty() {
                        Err("a directory name is needed")
                    } else {
                        Ok(())
                    }
                })
                .interact_text(),
            "directory prompt",
        )
    }

    pub fn id(&self, default: Option<&str>) -> Result<String> {
        let mut input = Input::<String>::with_theme(&self.theme)
            .with_prompt("Add-on id (slug)")
            .validate_with(|s: &String| slug::problem(s).map_or(Ok(()), Err));
        if let Some(d) = default {
            input = input.default(d.to_owned());
        }
        prompt::answer(input.interact_text(), "id prompt")
    }

    pub fn name(&self, default: &str) -> Result<String> {
        prompt::answer(
            Input::with_theme(&self.theme)
                .with_prompt("Display name")
                .default(default.to_owned())
                .interact_text(),
            "name prompt",
        )
    }

    /// A multi-select of the known regions, `defaults` checked.
    pub fn regions(&self, defaults: &[String]) -> Result<Vec<String>> {
        let choices: Vec<&str> = KNOWN_REGIONS
            .iter()
            .copied()
            .filter(|r| *r != "*")
            .collect();
        let checked: Vec<bool> = choices
            .iter()
            .map(|r| defaults.iter().any(|d| d == r))
            .collect();
        loop {
            let picked = prompt::answer(
                MultiSelect::with_theme(&self.theme)
                    .with_prompt("Regions (space to toggle, enter to accept)")
                    .items(&choices)
                    .defaults(&checked)
                    .interact(),
                "regions prompt",
            )?;
            let regions: Vec<String> = picked.iter().map(|&i| choices[i].to_owned()).collect();
            if !regions.is_empty() {
                return Ok(regions);
            }
            eprintln!("Pick at least one region (space toggles one).");
        }
    }

    pub fn sso(&self) -> Result<Option<SsoMethod>> {
        let items = [
            "POST to sso_url (current Heroku behaviour)",
            "GET to the resource URL (legacy)",
            "no single sign-on",
        ];
        let index = prompt::answer(
            Select::with_theme(&self.theme)
                .with_prompt("Single sign-on")
                .items(items)
                .default(0)
                .interact(),
            "SSO prompt",
        )?;
        Ok([Some(SsoMethod::Post), Some(SsoMethod::Get), None][index])
    }

    pub fn port(&self, default: u16) -> Result<u16> {
        let text = prompt::answer(
            Input::<String>::with_theme(&self.theme)
                .with_prompt("Local port")
                .default(default.to_string())
                .validate_with(|s: &String| parse_port(s).map(|_| ()))
                .interact_text(),
            "port prompt",
        )?;
        Ok(parse_port(&text).expect("validated"))
    }

    /// Asks for one template variable, suggesting `suggested` (a default, the user's
    /// default, a recorded answer), re-asking until the value passes its checks.
    pub fn variable(&self, name: &str, var: &VarSpec, suggested: Option<&Value>) -> Result<Value> {
        let prompt = match &var.help {
            Some(help) => format!("{name} ({help})"),
            None => name.to_owned(),
        };
        match var.kind {
            VarType::Boolean => {
                let default = suggested.and_then(Value::as_bool).unwrap_or(false);
                let answer = prompt::answer(
                    Confirm::with_theme(&self.theme)
                        .with_prompt(prompt)
                        .default(default)
                        .interact(),
                    "variable prompt",
                )?;
                Ok(Value::Bool(answer))
            }
            VarType::Choice => {
                let at = suggested
                    .and_then(Value::as_str)
                    .and_then(|s| var.choices.iter().position(|c| c == s))
                    .unwrap_or(0);
                let index = prompt::answer(
                    Select::with_theme(&self.theme)
                        .with_prompt(prompt)
                        .items(&var.choices)
                        .default(at)
                        .interact(),
                    "variable prompt",
                )?;
                Ok(Value::String(var.choices[index].clone()))
            }
            VarType::MultiChoice => {
                let picked: Vec<&str> = suggested
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let checked: Vec<bool> = var
                    .choices
                    .iter()
                    .map(|c| picked.contains(&c.as_str()))
                    .collect();
                loop {
                    let indexes = prompt::answer(
                        MultiSelect::with_theme(&self.theme)
                            .with_prompt(format!("{prompt} (space to toggle, enter to accept)"))
                            .items(&var.choices)
                            .defaults(&checked)
                            .interact(),
                        "variable prompt",
                    )?;
                    let value = Value::Array(
                        indexes
                            .iter()
                            .map(|&i| Value::String(var.choices[i].clone()))
                            .collect(),
                    );
                    match var.coerce(&value) {
                        Ok(value) => return Ok(value),
                        Err(e) => eprintln!("{e}"),
                    }
                }
            }
            VarType::Secret => {
                let text = prompt::answer(
                    Password::with_theme(&self.theme)
                        .with_prompt(format!("{prompt} (not shown; written to .env only)"))
                        .validate_with(|s: &String| {
                            var.coerce(&Value::String(s.clone())).map(|_| ())
                        })
                        .interact(),
                    "secret prompt",
                )?;
                Ok(Value::String(text))
            }
            VarType::String | VarType::Integer => {
                let mut input = Input::<String>::with_theme(&self.theme)
                    .with_prompt(prompt)
                    .validate_with(|s: &String| var.coerce(&Value::String(s.clone())).map(|_| ()));
                if let Some(suggested) = suggested {
                    let text = match suggested {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    input = input.default(text);
                }
                let text = prompt::answer(input.interact_text(), "variable prompt")?;
                var.coerce(&Value::String(text)).map_err(anyhow::Error::msg)
            }
        }
    }

    /// Shows every answer (secrets hidden) and asks whether to go ahead, default yes.
    pub fn confirm_summary(&self, what: &str, rows: &[(String, String)]) -> Result<bool> {
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        eprintln!("\n{what}:");
        for (key, value) in rows {
            eprintln!("  {key:<width$}  {value}");
        }
        prompt::answer(
            Confirm::with_theme(&self.theme)
                .with_prompt("Go ahead with these values?")
                .default(true)
                .interact(),
            "summary prompt",
        )
    }
}

/// A port as a person types it, with a reason in words when it is not one.
fn parse_port(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        Ok(_) => Err(format!(
            "{} is not a port: use a number from 1 to 65535",
            text.trim()
        )),
        Err(_) => Err(format!(
            "{:?} is not a port: use a whole number from 1 to 65535",
            text.trim()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_port;

    #[test]
    fn ports_are_explained_in_words() {
        assert_eq!(parse_port(" 8080 "), Ok(8080));
        assert!(parse_port("0").unwrap_err().contains("from 1 to 65535"));
        assert!(parse_port("99999").unwrap_err().contains("from 1 to 65535"));
        let err = parse_port("eighty").unwrap_err();
        assert!(
            err.contains("whole number") && !err.contains("invalid digit"),
            "{err}"
        );
    }
}
