//! How a project was made, kept in the project (`.kensa/`, shared through git):
//!
//! - `answers.toml`: the template's source (and commit, for git), its version (a hash of
//!   its files), the kensa that rendered it, the add-on's shape and every template
//!   variable's value — never a secret (those live in `.env` and the manifest);
//! - `pristine.json.gz`: exactly what the template rendered, compressed: the base
//!   `kensa update` merges the user's changes and the template's new version against.
//!
//! `kensa create --replay` reads the answers of another project; `kensa update` both.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::render::OutputFile;
use super::spec::toml_error;
use super::ScaffoldError;
use crate::fsutil;
use crate::manifest::{AddonSpec, SsoMethod};
use crate::state;

/// The answers file's first lines.
const HEADER: &str = "\
# How this project was made: written by `kensa create` and `kensa update`, read by
# `kensa update` and `kensa create --replay`. No secrets: they stay in .env and the manifest.
";

/// `.kensa/answers.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    /// The kensa that rendered the project.
    pub kensa_version: String,
    pub template: TemplateRecord,
    pub project: ProjectRecord,
    pub addon: AddonRecord,
    /// Every template variable's value but the secrets, in the template's order.
    #[serde(default)]
    pub values: IndexMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateRecord {
    /// An embedded template's name, a template directory (absolute), or a git URL.
    pub source: String,
    /// The ref asked for (git).
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// The commit rendered (git).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// `sha256:` of the template's files: changes whenever the template does.
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectRecord {
    /// `project_name` as the template saw it (the directory's name at create).
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddonRecord {
    pub id: String,
    pub name: String,
    pub regions: Vec<String>,
    /// `post`, `get` or `none`.
    pub sso: String,
    pub port: u16,
}

impl AddonRecord {
    pub fn of(spec: &AddonSpec) -> AddonRecord {
        AddonRecord {
            id: spec.id.clone(),
            name: spec.name.clone(),
            regions: spec.regions.clone(),
            sso: sso_word(spec.sso).to_owned(),
            port: spec.port,
        }
    }

    /// The add-on spec recorded; `None` for an `sso` kensa does not know.
    pub fn spec(&self) -> Option<AddonSpec> {
        let sso = match self.sso.as_str() {
            "post" => Some(SsoMethod::Post),
            "get" => Some(SsoMethod::Get),
            "none" => None,
            _ => return None,
        };
        Some(AddonSpec {
            id: self.id.clone(),
            name: self.name.clone(),
            regions: self.regions.clone(),
            sso,
            port: self.port,
        })
    }
}

/// `post`, `get` or `none`: the `sso_method` templates see.
pub fn sso_word(sso: Option<SsoMethod>) -> &'static str {
    match sso {
        Some(SsoMethod::Post) => "post",
        Some(SsoMethod::Get) => "get",
        None => "none",
    }
}

impl Answers {
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).expect("answers serialise to TOML");
        format!("{HEADER}\n{body}")
    }

    pub fn parse(text: &str, path: &Path) -> Result<Answers, ScaffoldError> {
        let answers: Answers = toml::from_str(text).map_err(|e| ScaffoldError::Answers {
            path: path.to_owned(),
            why: toml_error(text, &e),
        })?;
        if answers.addon.spec().is_none() {
            return Err(ScaffoldError::Answers {
                path: path.to_owned(),
                why: format!(
                    "addon.sso = {:?} is not post, get or none",
                    answers.addon.sso
                ),
            });
        }
        Ok(answers)
    }

    /// The answers of the project at `path` (its directory, or the answers file itself).
    pub fn load(path: &Path) -> Result<(Answers, PathBuf), ScaffoldError> {
        let file = if path.is_dir() {
            answers_path(path)
        } else {
            path.to_owned()
        };
        let bytes = fsutil::read_input(&file).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => ScaffoldError::Answers {
                path: file.clone(),
                why: "there is no such file: was the project made by `kensa create`?".into(),
            },
            _ => ScaffoldError::Answers {
                path: file.clone(),
                why: source.to_string(),
            },
        })?;
        let text = String::from_utf8(bytes).map_err(|_| ScaffoldError::Answers {
            path: file.clone(),
            why: "it is not UTF-8 text".into(),
        })?;
        Ok((Answers::parse(&text, &file)?, file))
    }
}

/// `.kensa/answers.toml` of a project.
pub fn answers_path(project: &Path) -> PathBuf {
    project.join(state::DIR).join(state::ANSWERS)
}

/// `.kensa/pristine.json.gz` of a project.
pub fn pristine_path(project: &Path) -> PathBuf {
    project.join(state::DIR).join(state::PRISTINE)
}

/// One file of the pristine render as stored: text as text (readable with `zcat`), other
/// bytes as base64.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredFile {
    path: String,
    mode: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
}

/// The pristine render, gzip-compressed JSON.
pub fn pack(files: &[OutputFile]) -> Vec<u8> {
    let stored: Vec<StoredFile> = files
        .iter()
        .map(|f| {
            let (text, base64) = match std::str::from_utf8(&f.bytes) {
                Ok(text) => (Some(text.to_owned()), None),
                Err(_) => (
                    None,
                    Some(base64::engine::general_purpose::STANDARD.encode(&f.bytes)),
                ),
            };
            StoredFile {
                path: f.path.clone(),
                mode: f.mode,
                text,
                base64,
            }
        })
        .collect();
    let json = serde_json::to_vec(&stored).expect("stored files serialise");
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&json).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

/// Reads a pristine render back; what is not one is an error naming `path`.
pub fn unpack(bytes: &[u8], path: &Path) -> Result<Vec<OutputFile>, ScaffoldError> {
    let bad = |why: String| ScaffoldError::Answers {
        path: path.to_owned(),
        why,
    };
    let mut json = Vec::new();
    // Bounded like every input: a small file must not unpack into gigabytes.
    GzDecoder::new(bytes)
        .take(fsutil::INPUT_LIMIT * 8 + 1)
        .read_to_end(&mut json)
        .map_err(|e| bad(format!("not a gzip file kensa wrote: {e}")))?;
    if json.len() as u64 > fsutil::INPUT_LIMIT * 8 {
        return Err(bad("it unpacks to more than 128 MiB".into()));
    }
    let stored: Vec<StoredFile> =
        serde_json::from_slice(&json).map_err(|e| bad(format!("not a pristine render: {e}")))?;
    stored
        .into_iter()
        .map(|f| {
            let bytes = match (f.text, f.base64) {
                (Some(text), None) => text.into_bytes(),
                (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| bad(format!("{}: bad base64: {e}", f.path)))?,
                _ => return Err(bad(format!("{}: neither text nor base64", f.path))),
            };
            super::render::check_path(&f.path).map_err(|e| bad(e.to_string()))?;
            Ok(OutputFile {
                path: f.path,
                bytes,
                mode: f.mode & 0o777,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answers() -> Answers {
        Answers {
            kensa_version: "0.1.0".into(),
            template: TemplateRecord {
                source: "node".into(),
                git_ref: None,
                commit: None,
                version: "sha256:abc".into(),
            },
            project: ProjectRecord {
                name: "my-addon".into(),
            },
            addon: AddonRecord {
                id: "my-addon".into(),
                name: "My Addon".into(),
                regions: vec!["us".into()],
                sso: "post".into(),
                port: 5001,
            },
            values: [
                ("node_version".to_owned(), json!("20")),
                ("features".to_owned(), json!(["async", "sso"])),
                ("replicas".to_owned(), json!(3)),
                ("debug".to_owned(), json!(false)),
            ]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn answers_round_trip_through_toml() {
        let text = answers().to_toml();
        assert!(text.starts_with("# How this project was made"), "{text}");
        assert_eq!(Answers::parse(&text, Path::new("a")).unwrap(), answers());
    }

    #[test]
    fn bad_answers_name_the_file_and_line() {
        let err = Answers::parse("kensa_version = 1\n", Path::new("x/answers.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x/answers.toml") && err.contains("line 1"),
            "{err}"
        );
    }

    #[test]
    fn the_pristine_render_round_trips_text_and_binary() {
        let files = vec![
            OutputFile {
                path: "a/b.txt".into(),
                bytes: b"hello\n".to_vec(),
                mode: 0o644,
            },
            OutputFile {
                path: "bin/x".into(),
                bytes: vec![0, 159, 255],
                mode: 0o755,
            },
        ];
        let packed = pack(&files);
        assert_eq!(unpack(&packed, Path::new("p")).unwrap(), files);
        assert!(unpack(b"not gzip", Path::new("p")).is_err());
    }
}
