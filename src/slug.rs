//! Add-on slugs: what an id may look like, and how one is made from a directory name.

/// Longest slug accepted; Heroku add-on slugs are short names.
pub const MAX_LEN: usize = 50;

/// Why a string is not a valid slug, or `None` when it is one.
pub fn problem(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("it is empty".into());
    }
    if id.len() > MAX_LEN {
        return Some(format!("it is longer than {MAX_LEN} characters"));
    }
    if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some("it must start with a lowercase letter".into());
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!(
            "{bad:?} is not allowed (use lowercase letters, digits and dashes)"
        ));
    }
    if id.ends_with('-') || id.contains("--") {
        return Some("dashes must separate words (no leading, trailing or double dash)".into());
    }
    None
}

/// Makes a slug from free text (`"My Add-on!"` → `my-add-on`); `None` if nothing usable is left.
pub fn from_text(text: &str) -> Option<String> {
    let mut slug = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    let slug = slug.trim_start_matches(|c: char| c.is_ascii_digit() || c == '-');
    let slug: String = slug.chars().take(MAX_LEN).collect();
    let slug = slug.trim_end_matches('-').to_string();
    (problem(&slug).is_none()).then_some(slug)
}

/// `my-addon` → `MY_ADDON`: the config var prefix Heroku derives from the id.
pub fn config_prefix(id: &str) -> String {
    id.to_ascii_uppercase().replace('-', "_")
}

/// `my-addon` → `My Addon`: a default display name.
pub fn title(id: &str) -> String {
    id.split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_slugs() {
        for ok in ["myaddon", "my-addon", "a1", "x-2-y"] {
            assert_eq!(problem(ok), None, "{ok}");
        }
    }

    #[test]
    fn invalid_slugs_say_why() {
        for bad in ["", "My", "1abc", "a_b", "a--b", "a-", "-a", "é"] {
            assert!(problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn slugs_from_directory_names() {
        assert_eq!(from_text("My Add-on!").as_deref(), Some("my-add-on"));
        assert_eq!(from_text("  spaced   out ").as_deref(), Some("spaced-out"));
        assert_eq!(from_text("42-things").as_deref(), Some("things"));
        assert_eq!(from_text("café au lait").as_deref(), Some("caf-au-lait"));
        assert_eq!(from_text("日本"), None);
        assert_eq!(from_text("___"), None);
    }

    #[test]
    fn prefix_and_title() {
        assert_eq!(config_prefix("my-addon"), "MY_ADDON");
        assert_eq!(title("my-addon"), "My Addon");
    }
}
