//! The fixture manifest (`tests/fixtures/addon-manifest.json`): one every rule passes, so
//! `kensa test manifest` on it never contacts a provider. The unit tests of the rules
//! (`src/manifest/validate.rs`) read the same file.

use std::sync::LazyLock;

use serde_json::Value;

static GOOD: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../fixtures/addon-manifest.json"))
        .expect("the fixture manifest is JSON")
});

/// The fixture, parsed.
pub fn good() -> Value {
    GOOD.clone()
}

/// [`good`] with the value at a JSON pointer replaced, as pretty JSON.
pub fn with(pointer: &str, value: Value) -> String {
    let mut doc = good();
    *doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the good manifest")) = value;
    serde_json::to_string_pretty(&doc).unwrap()
}

/// The fixture's add-on id (its slug).
pub fn id() -> &'static str {
    GOOD["id"].as_str().unwrap()
}

/// The fixture's `api.password`: it must never be printed.
pub fn password() -> &'static str {
    GOOD["api"]["password"].as_str().unwrap()
}

/// The fixture's `api.sso_salt`: it must never be printed.
pub fn salt() -> &'static str {
    GOOD["api"]["sso_salt"].as_str().unwrap()
}
