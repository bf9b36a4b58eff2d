//! Extra words after `kensa test provision`: `--key value`, `--key=value` and bare `--key`
//! become the provision request's `options` (values are always strings, as Heroku sends).

use serde_json::{Map, Value};

use crate::error::UsageError;

pub fn parse(words: &[String]) -> Result<Map<String, Value>, UsageError> {
    let mut options = Map::new();
    let mut iter = words.iter().peekable();
    while let Some(word) = iter.next() {
        let Some(key) = word.strip_prefix("--").filter(|k| !k.is_empty()) else {
            return Err(UsageError(format!(
                "provision option {word:?}: expected --key value, --key=value or --key"
            )));
        };
        let (key, value) = match key.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => match iter.next_if(|next| !next.starts_with("--")) {
                Some(value) => (key.to_owned(), value.clone()),
                None => (key.to_owned(), "true".to_owned()),
            },
        };
        options.insert(key, Value::String(value));
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_three_forms() {
        let o = parse(&words(&[
            "--foo", "bar", "--size=2", "--fast", "--x", "--y", "1",
        ]))
        .unwrap();
        assert_eq!(
            Value::Object(o),
            json!({"foo": "bar", "size": "2", "fast": "true", "x": "true", "y": "1"})
        );
    }

    #[test]
    fn a_stray_word_is_a_usage_error() {
        assert!(parse(&words(&["foo"])).is_err());
        assert!(parse(&words(&["--"])).is_err());
    }
}
