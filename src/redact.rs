//! The one masking mechanism. Every secret kensa learns (the manifest's password and SSO
//! salt, a password inside one of its URLs, the Heroku API key) is [`register`]ed once,
//! where it is learnt; every output path (the reporters, `--verbose` logs, diffs, errors,
//! warnings) passes its text through [`mask`] before writing it.
//!
//! A secret is caught in every form an output can carry it in, and in any mixture of them:
//! as it is, JSON- or Rust-escaped (`\"`, `\\`, `\/`, `\u0041`, `\u{41}`), and URL-encoded
//! (`%41`, `%4a` or `%4A`, and `+` for a space as forms encode it).
//!
//! Some secrets kensa cannot know in advance: the tokens and codes its fake Heroku issues,
//! the config vars a provider answers with. [`mask_body`] hides those by where they stand
//! (a field named like a secret, a config var's value) before it masks the registered ones:
//! it is how the call log of the fake Heroku (and so `kensa dev`'s console and saved
//! session) keeps a body.

use std::borrow::Cow;
use std::sync::{LazyLock, RwLock};

use regex::Regex;
use serde_json::Value;

/// What a secret is replaced with.
pub const MASK: &str = "********";

/// The secrets registered so far, and the pattern that finds any of them.
static KNOWN: LazyLock<RwLock<Masker>> = LazyLock::new(|| RwLock::new(Masker::new(Vec::new())));

/// Masks every form of the secrets it was made with.
#[derive(Debug, Clone)]
pub struct Masker {
    secrets: Vec<String>,
    pattern: Option<Regex>,
}

impl Masker {
    pub fn new(secrets: Vec<String>) -> Masker {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        // Longest first, so a secret that contains another is masked whole.
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        secrets.dedup();
        let pattern = (!secrets.is_empty()).then(|| {
            let alternatives: Vec<String> = secrets.iter().map(|s| any_form(s)).collect();
            Regex::new(&alternatives.join("|")).expect("escaped secrets make a valid pattern")
        });
        Masker { secrets, pattern }
    }

    /// `text` with every form of every secret replaced by [`MASK`].
    pub fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match &self.pattern {
            Some(p) => p.replace_all(text, MASK),
            None => Cow::Borrowed(text),
        }
    }

    fn add(&self, more: impl IntoIterator<Item = String>) -> Option<Masker> {
        let new: Vec<String> = more
            .into_iter()
            .filter(|s| !s.is_empty() && !self.secrets.contains(s))
            .collect();
        if new.is_empty() {
            return None;
        }
        Some(Masker::new(
            self.secrets.iter().cloned().chain(new).collect(),
        ))
    }
}

/// From now on, [`mask`] hides these secrets (empty strings are ignored).
pub fn register<S: Into<String>>(secrets: impl IntoIterator<Item = S>) {
    let secrets: Vec<String> = secrets.into_iter().map(Into::into).collect();
    let grown = match KNOWN.read() {
        Ok(known) => known.add(secrets),
        Err(poisoned) => poisoned.into_inner().add(secrets),
    };
    if let Some(grown) = grown {
        match KNOWN.write() {
            Ok(mut known) => *known = grown,
            Err(poisoned) => *poisoned.into_inner() = grown,
        }
    }
}

/// `text` with every registered secret, in every form, replaced by [`MASK`].
pub fn mask(text: &str) -> Cow<'_, str> {
    let known = match KNOWN.read() {
        Ok(known) => known,
        Err(poisoned) => poisoned.into_inner(),
    };
    match known.mask(text) {
        Cow::Borrowed(_) => Cow::Borrowed(text),
        Cow::Owned(masked) => Cow::Owned(masked),
    }
}

/// Names whose values are secrets wherever they appear in a body, JSON or form.
const SECRET_NAMES: &[&str] = &[
    "access_token",
    "refresh_token",
    "client_secret",
    "code",
    "password",
    "token",
    "resource_token",
    "user_scoped_resource_token",
    "session_nonce",
    "logplex_token",
    "log_drain_token",
    "log_input_url",
];

/// The most of a body that is neither JSON nor a form that a log keeps.
const TEXT_BODY_LIMIT: usize = 4096;

/// A body as a log keeps it: JSON pretty-printed, a form as `name=value` lines, other text
/// as it is (up to 4 KiB). The value of every field named like a secret and every config
/// var's value (`"config"` objects, `{"name", "value"}` lists) is replaced by [`MASK`],
/// then every registered secret, in every form, as [`mask`] does.
pub fn mask_body(body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    let shaped = if let Ok(mut value) = serde_json::from_slice::<Value>(body) {
        mask_json(&mut value, false);
        mask_value(&mut value);
        serde_json::to_string_pretty(&value).unwrap_or_default()
    } else {
        let text = String::from_utf8_lossy(body);
        let form_like = !text.contains(char::is_whitespace) && text.contains('=');
        if form_like {
            url::form_urlencoded::parse(body)
                .map(|(k, v)| {
                    let secret = SECRET_NAMES.contains(&k.as_ref());
                    format!("{k}={}", if secret { MASK } else { &v })
                })
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            // Masked whole before it is cut, so no secret is cut in half.
            return mask(&text).chars().take(TEXT_BODY_LIMIT).collect();
        }
    };
    mask(&shaped).into_owned()
}

/// Masks every string of `value` (keys included) in place, as [`mask`] does. A document
/// is masked so before it is serialised: a string that quotes a secret in an escaped form
/// is escaped once more by serialising, into a form the text no longer shows as such.
pub fn mask_value(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Cow::Owned(masked) = mask(s) {
                *s = masked;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_value),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut v) in entries {
                mask_value(&mut v);
                map.insert(mask(&key).into_owned(), v);
            }
        }
        _ => {}
    }
}

/// Masks secret fields in place; `config` says the values of this object are config vars.
fn mask_json(value: &mut Value, config: bool) {
    match value {
        Value::Object(map) => {
            let is_config_item = map.contains_key("name") && map.contains_key("value");
            for (key, v) in map.iter_mut() {
                let secret = SECRET_NAMES.contains(&key.as_str())
                    || (config && !v.is_object())
                    || (is_config_item && key == "value");
                if secret && !v.is_null() {
                    *v = Value::String(MASK.to_owned());
                } else {
                    mask_json(v, key == "config" && v.is_object());
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mask_json(v, false)),
        _ => {}
    }
}

/// A pattern matching `secret` with each character in any of its encoded forms.
fn any_form(secret: &str) -> String {
    let mut pattern = String::from("(?:");
    for c in secret.chars() {
        let mut forms = vec![regex::escape(c.encode_utf8(&mut [0; 4]))];
        // JSON's short escapes (and Rust's, which share them).
        match c {
            '"' => forms.push(r#"\\""#.into()),
            '\\' => forms.push(r"\\\\".into()),
            '/' => forms.push(r"\\/".into()),
            '\n' => forms.push(r"\\n".into()),
            '\r' => forms.push(r"\\r".into()),
            '\t' => forms.push(r"\\t".into()),
            '\u{8}' => forms.push(r"\\b".into()),
            '\u{c}' => forms.push(r"\\f".into()),
            '\'' => forms.push(r"\\'".into()),
            ' ' => forms.push(r"\+".into()),
            _ => {}
        }
        // JSON's \uXXXX (UTF-16, so a pair beyond the BMP) and Rust's \u{X}.
        let mut units = [0u16; 2];
        let utf16: String = c
            .encode_utf16(&mut units)
            .iter()
            .map(|u| format!(r"\\u{}", hex_any_case(&format!("{u:04x}"))))
            .collect();
        forms.push(utf16);
        forms.push(format!(
            r"\\u\{{0*{}\}}",
            hex_any_case(&format!("{:x}", c as u32))
        ));
        // Percent-encoding of each UTF-8 byte.
        let percent: String = c
            .encode_utf8(&mut [0; 4])
            .bytes()
            .map(|b| format!("%{}", hex_any_case(&format!("{b:02x}"))))
            .collect();
        forms.push(percent);
        pattern.push_str("(?:");
        pattern.push_str(&forms.join("|"));
        pattern.push(')');
    }
    pattern.push(')');
    pattern
}

/// Hex digits as a pattern that takes either case: `2f` → `2[fF]`.
fn hex_any_case(hex: &str) -> String {
    hex.chars()
        .map(|d| {
            if d.is_ascii_alphabetic() {
                format!("[{}{}]", d.to_ascii_lowercase(), d.to_ascii_uppercase())
            } else {
                d.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masker(secrets: &[&str]) -> Masker {
        Masker::new(secrets.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn masks_the_raw_form() {
        let m = masker(&["s3cret"]);
        assert_eq!(m.mask("a s3cret b s3cret"), "a ******** b ********");
        assert!(matches!(m.mask("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn masks_json_and_rust_escaped_forms() {
        let secret = "pa\"ss\\wo/rd é";
        let m = masker(&[secret]);
        let json = serde_json::to_string(secret).unwrap();
        assert_eq!(m.mask(&json), format!("\"{MASK}\""));
        assert_eq!(m.mask(&format!("{secret:?}")), format!("\"{MASK}\""));
        assert_eq!(m.mask(r"pa\u0022ss\u005Cwo\/rd \u00e9"), MASK);
        assert_eq!(m.mask(r#"pa\"ss\\wo/rd \u{e9}"#), MASK);
    }

    #[test]
    fn masks_url_encoded_forms_in_either_case_and_with_plus() {
        let secret = "a b/c+é";
        let m = masker(&[secret]);
        let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        assert_eq!(form, "a+b%2Fc%2B%C3%A9");
        assert_eq!(m.mask(&format!("x={form}&y=1")), format!("x={MASK}&y=1"));
        assert_eq!(m.mask("a%20b%2fc%2b%c3%a9"), MASK);
        assert_eq!(m.mask("%61%20b/c+é"), MASK, "any mixture of forms");
    }

    #[test]
    fn a_longer_secret_is_masked_whole() {
        let m = masker(&["abc", "abcdef"]);
        assert_eq!(m.mask("abcdef abc"), format!("{MASK} {MASK}"));
    }

    #[test]
    fn a_body_keeps_its_shape_and_hides_secret_fields_and_config_values() {
        let masked = mask_body(br#"{"id":"1","config":{"A_URL":"secret-url"},"token":"t"}"#);
        assert!(
            masked.contains(&format!("\"A_URL\": \"{MASK}\"")),
            "{masked}"
        );
        assert!(
            masked.contains(&format!("\"token\": \"{MASK}\"")),
            "{masked}"
        );
        assert!(masked.contains("\"id\": \"1\""), "{masked}");
        let listed = mask_body(br#"{"config":[{"name":"B_URL","value":"pg://x"}]}"#);
        assert!(
            !listed.contains("pg://x") && listed.contains("B_URL"),
            "{listed}"
        );
        assert_eq!(
            mask_body(b"grant_type=refresh_token&refresh_token=abc"),
            format!("grant_type=refresh_token\nrefresh_token={MASK}")
        );
        assert_eq!(mask_body(b""), "");
    }

    #[test]
    fn a_body_hides_registered_secrets_in_any_field_and_form() {
        let secret = r#"body-"secret"\ 7"#;
        register([secret]);
        let json = serde_json::json!({"message": format!("you sent {secret}")}).to_string();
        let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for body in [
            json,
            format!("note={form}&id=1"),
            format!("plain text {secret}"),
        ] {
            let masked = mask_body(body.as_bytes());
            assert!(masked.contains(MASK), "{body} -> {masked}");
            assert!(!masked.contains("secret"), "{body} -> {masked}");
        }
        // A secret across the 4 KiB cut is masked before the cut, not cut in half.
        let long = format!("{}{secret}", "x".repeat(TEXT_BODY_LIMIT - 5));
        assert!(!mask_body(long.as_bytes()).contains("body-"));
    }

    #[test]
    fn registered_secrets_stay_masked() {
        register(["registered-secret-1"]);
        register(["registered-secret-2", ""]);
        assert_eq!(
            mask("registered-secret-1 registered%2Dsecret-2"),
            format!("{MASK} {MASK}")
        );
    }
}
