//! The `init`/`create` wizard (dialoguer). It only asks for what flags did not give, and
//! only runs when a person is at a terminal: see [`crate::prompt::interactive`].

use anyhow::Result;
use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, MultiSelect, Select};
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

    pub fn regions(&self) -> Result<Vec<String>> {
        let choices: Vec<&str> = KNOWN_REGIONS
            .iter()
            .copied()
            .filter(|r| *r != "*")
            .collect();
        let defaults: Vec<bool> = choices.iter().map(|r| *r == "us").collect();
        loop {
            let picked = prompt::answer(
                MultiSelect::with_theme(&self.theme)
                    .with_prompt("Regions (space to toggle, enter to accept)")
                    .items(&choices)
                    .defaults(&defaults)
                    .interact(),
                "regions prompt",
            )?;
            let regions: Vec<String> = picked.iter().map(|&i| choices[i].to_owned()).collect();
            if regions.iter().any(|r| r == "us") {
                return Ok(regions);
            }
            eprintln!("Heroku requires every add-on to be offered in us; please include it.");
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
        prompt::answer(
            Input::with_theme(&self.theme)
                .with_prompt("Local port")
                .default(default)
                .validate_with(|p: &u16| {
                    if *p == 0 {
                        Err("port 0 is not usable")
                    } else {
                        Ok(())
                    }
                })
                .interact_text(),
            "port prompt",
        )
    }

    /// Asks for one template variable, re-asking until the value passes its checks.
    pub fn variable(&self, name: &str, var: &VarSpec) -> Result<Value> {
        let prompt = match &var.help {
            Some(help) => format!("{name} ({help})"),
            None => name.to_owned(),
        };
        if var.kind == VarType::Boolean {
            let default = var
                .default_json()
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            let answer = prompt::answer(
                Confirm::with_theme(&self.theme)
                    .with_prompt(prompt)
                    .default(default)
                    .interact(),
                "variable prompt",
            )?;
            return Ok(Value::Bool(answer));
        }
        let mut input = Input::<String>::with_theme(&self.theme)
            .with_prompt(prompt)
            .validate_with(|s: &String| var.coerce(&Value::String(s.clone())).map(|_| ()));
        if let Some(default) = var.default_json() {
            let text = match default {
                Value::String(s) => s,
                other => other.to_string(),
            };
            input = input.default(text);
        }
        let text = prompt::answer(input.interact_text(), "variable prompt")?;
        var.coerce(&Value::String(text)).map_err(anyhow::Error::msg)
    }
}
