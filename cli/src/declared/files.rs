//! Declaration files: YAML (or JSON) documents with top-level `integrations:` and `flows:`
//! maps keyed by name, whose values are exactly the API's PUT bodies (`IntegrationSpec`,
//! `AccessFlowSpec`: the same fields, defaults and `deny_unknown_fields`, so a secret given as
//! anything but `secret_arn` is refused here, before anything is sent).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use shared::model::{AccessFlowSpec, IntegrationSpec};
use shared::validation::{ValidationErrors, check_name};

use crate::error::{CliError, Result};

/// Larger than any real declaration; stops `-f /dev/zero` from reading forever.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// One declared item and the file it came from (for error messages).
#[derive(Debug, Clone)]
pub struct Item<T> {
    pub spec: T,
    pub file: String,
}

/// Everything the files declare, by name.
#[derive(Debug, Default)]
pub struct Declared {
    pub integrations: BTreeMap<String, Item<IntegrationSpec>>,
    pub flows: BTreeMap<String, Item<AccessFlowSpec>>,
}

impl Declared {
    pub fn is_empty(&self) -> bool {
        self.integrations.is_empty() && self.flows.is_empty()
    }
}

/// One YAML document. Unknown top-level keys are refused (a typo such as `flow:` would
/// otherwise declare nothing, and `--prune` would delete what it meant to keep).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document<I, F> {
    #[serde(default = "Named::empty", skip_serializing_if = "Named::is_empty")]
    pub integrations: Named<I>,
    #[serde(default = "Named::empty", skip_serializing_if = "Named::is_empty")]
    pub flows: Named<F>,
}

/// A map keyed by name that keeps its order and refuses a key given twice (serde's own maps
/// silently keep the last one, which would hide a copy-paste mistake).
#[derive(Debug, Clone, PartialEq)]
pub struct Named<T>(pub Vec<(String, T)>);

impl<T> Default for Named<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T> Named<T> {
    fn empty() -> Self {
        Self(Vec::new())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: Serialize> Serialize for Named<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Named<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Named<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of names to definitions")
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
                // `flows:` with nothing under it.
                Ok(Named(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out: Vec<(String, T)> = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    if out.iter().any(|(n, _)| *n == k) {
                        return Err(de::Error::custom(format!("{k:?} is declared twice")));
                    }
                    let v = m.next_value()?;
                    out.push((k, v));
                }
                Ok(Named(out))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// The files given, a directory standing for its `*.yaml` and `*.yml` files (not recursive),
/// in name order.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| CliError::input("unreadable_file", format!("{}: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file()
                        && matches!(f.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
                })
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn read(path: &Path) -> Result<String> {
    let shown = path.display();
    let f = std::fs::File::open(path)
        .map_err(|e| CliError::input("unreadable_file", format!("{shown}: {e}")))?;
    let mut text = String::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| CliError::input("unreadable_file", format!("{shown}: {e}")))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(CliError::input(
            "file_too_large",
            format!("{shown}: larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    Ok(text)
}

/// The documents of one file's text (`---` separates several).
pub fn parse(file: &str, text: &str) -> Result<Vec<Document<IntegrationSpec, AccessFlowSpec>>> {
    // Syntax first, over the whole text: the typed pass stops at the first field it dislikes,
    // which would report a broken file as a wrong field.
    for d in serde_yaml_ng::Deserializer::from_str(text) {
        de::IgnoredAny::deserialize(d).map_err(|e| {
            CliError::input(
                "invalid_yaml",
                format!("{file}: {}", e.to_string().replace('\n', " ")),
            )
        })?;
    }
    let mut docs = Vec::new();
    for d in serde_yaml_ng::Deserializer::from_str(text) {
        match Document::deserialize(d) {
            Ok(doc) => docs.push(doc),
            Err(e) => return Err(yaml_error(file, &e)),
        }
    }
    Ok(docs)
}

/// A parse error as one line: the file, where in it (the path names the integration or flow),
/// and, for a field the API does not know, how secrets are given instead.
fn yaml_error(file: &str, e: &serde_yaml_ng::Error) -> CliError {
    let text = e.to_string().replace('\n', " ");
    let code = if text.contains("unknown field") {
        "unknown_field"
    } else if text.contains("declared twice") {
        "duplicate_name"
    } else if text.contains("invalid type")
        || text.contains("missing field")
        || text.contains("unknown variant")
        || text.contains("invalid value")
    {
        "invalid_field"
    } else {
        "invalid_yaml"
    };
    let hint = if code == "unknown_field" && looks_secret(&text) {
        ": secrets are never written in these files; name a Secrets Manager secret with \
         secret_arn instead"
    } else {
        ""
    };
    CliError::input(code, format!("{file}: {text}{hint}"))
}

/// Does an unknown-field error name something that looks like a credential?
fn looks_secret(text: &str) -> bool {
    let field = text
        .split("unknown field `")
        .nth(1)
        .and_then(|r| r.split('`').next())
        .unwrap_or_default()
        .to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "api_key",
        "apikey",
        "key",
        "credential",
    ]
    .iter()
    .any(|w| field.contains(w))
}

/// Every file read and merged; a name declared twice (in one file or across files), a name
/// that cannot be one, or no declaration at all is refused.
pub fn load(paths: &[PathBuf]) -> Result<Declared> {
    let files = expand(paths)?;
    if files.is_empty() {
        return Err(CliError::input(
            "no_files",
            "no declaration files found (give YAML files or a directory holding *.yaml)",
        ));
    }
    let mut out = Declared::default();
    for path in &files {
        let file = path.display().to_string();
        for doc in parse(&file, &read(path)?)? {
            for (name, spec) in doc.integrations.0 {
                add(&mut out.integrations, "integration", &file, name, spec)?;
            }
            for (name, spec) in doc.flows.0 {
                add(&mut out.flows, "flow", &file, name, spec)?;
            }
        }
    }
    if out.is_empty() {
        // With --prune an empty declaration would delete everything: refuse it instead.
        return Err(CliError::input(
            "nothing_declared",
            format!(
                "{} declare no integrations and no flows",
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(out)
}

fn add<T>(
    into: &mut BTreeMap<String, Item<T>>,
    what: &str,
    file: &str,
    name: String,
    spec: T,
) -> Result<()> {
    let mut e = ValidationErrors::default();
    check_name(&mut e, "name", &name);
    if let Some(first) = e.0.first() {
        return Err(CliError::input(
            first.code,
            format!("{file}: {what} {name:?}: {}", first.message),
        ));
    }
    if let Some(earlier) = into.get(&name) {
        return Err(CliError::input(
            "duplicate_name",
            format!(
                "{file}: {what} {name} is declared twice (also in {})",
                earlier.file
            ),
        ));
    }
    into.insert(
        name,
        Item {
            spec,
            file: file.to_string(),
        },
    );
    Ok(())
}

/// A document to write (export).
pub fn to_yaml<I: Serialize, F: Serialize>(doc: &Document<I, F>) -> Result<String> {
    serde_yaml_ng::to_string(doc).map_err(|e| CliError::config(format!("cannot write YAML: {e}")))
}

/// Only for tests and export: parse one spec from a JSON value the API answered.
pub fn from_api<T: DeserializeOwned>(what: &str, name: &str, v: serde_json::Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| {
        CliError::config(format!(
            "the API answered {what} {name} in a form this elastic-jit does not understand \
             (is it older than the API?): {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<impl fmt::Debug>) -> (&'static str, String) {
        match r.unwrap_err() {
            CliError::Input { code, message } => (code, message),
            other => panic!("{other:?}"),
        }
    }

    const ONE: &str = "integrations:\n  search:\n    kind: elasticsearch\n    url: https://es:9200\n    secret_arn: arn:aws:secretsmanager:us-east-1:1:secret:x\nflows:\n  logs:\n    integration: search\n    requesters: [{type: group, value: dev}]\n";

    #[test]
    fn a_document_is_the_api_fields_keyed_by_name() {
        let docs = parse("a.yaml", ONE).unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].integrations.0[0].0, "search");
        // Defaults are the API's: discovery includes everything unless told.
        assert_eq!(docs[0].integrations.0[0].1.discovery.include, ["*"]);
        assert_eq!(docs[0].flows.0[0].1.integration, "search");
        // Several documents in one file; an empty `flows:` is no flows.
        let two = parse("b.yaml", "flows:\n---\nintegrations: {}\n").unwrap();
        assert_eq!(two.len(), 2);
    }

    #[test]
    fn a_secret_anywhere_but_secret_arn_is_refused_without_echoing_it() {
        let text = ONE.replace(
            "    url: https://es:9200\n",
            "    url: https://es:9200\n    password: hunter2\n",
        );
        let (c, m) = code(parse("prod.yaml", &text));
        assert_eq!(c, "unknown_field");
        assert!(
            m.starts_with("prod.yaml: integrations.search: unknown field `password`"),
            "{m}"
        );
        assert!(m.contains("secret_arn"), "{m}");
        assert!(!m.contains("hunter2"), "{m}");
        assert!(!m.contains('\n'));
    }

    #[test]
    fn bad_input_gets_its_own_code() {
        let (c, m) = code(parse("a.yaml", "integrations:\n  x: {kind: [\n"));
        assert_eq!(c, "invalid_yaml", "{m}");
        assert_eq!(code(parse("a.yaml", "flow:\n  x: {}\n")).0, "unknown_field");
        let twice = format!("{ONE}  logs:\n    integration: search\n    requesters: []\n");
        let (c, m) = code(parse("a.yaml", &twice));
        assert_eq!(c, "duplicate_name");
        assert!(m.contains("\"logs\" is declared twice"), "{m}");
        let (c, m) = code(parse("a.yaml", &ONE.replace("elasticsearch", "opensearch")));
        assert_eq!(c, "invalid_field");
        assert!(m.contains("integrations.search.kind"), "{m}");
    }

    #[test]
    fn an_alias_bomb_is_refused_not_expanded() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (n, prev) in ["b", "c", "d", "e", "f", "g", "h", "i"]
            .iter()
            .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
        {
            bomb.push_str(&format!(
                "{n}: &{n} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        let r = parse(
            "bomb.yaml",
            &format!("integrations:\n  x:\n    kind: {{{bomb}}}\n"),
        );
        assert!(r.is_err());
    }

    #[test]
    fn names_are_checked_before_they_reach_a_url_and_files_are_merged() {
        let dir = std::env::temp_dir().join(format!("ejit-files-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a.yaml");
        let b = dir.join("b.yml");
        std::fs::write(&a, ONE).unwrap();
        std::fs::write(
            &b,
            "flows:\n  logs:\n    integration: search\n    requesters: []\n",
        )
        .unwrap();
        let (c, m) = code(load(std::slice::from_ref(&dir)));
        assert_eq!(c, "duplicate_name");
        assert!(m.contains("also in"), "{m}");
        std::fs::write(
            &b,
            "flows:\n  other:\n    integration: search\n    requesters: []\n",
        )
        .unwrap();
        let d = load(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(d.flows.keys().collect::<Vec<_>>(), ["logs", "other"]);
        std::fs::write(
            &b,
            "flows:\n  ../integrations:\n    integration: search\n    requesters: []\n",
        )
        .unwrap();
        assert_eq!(code(load(std::slice::from_ref(&dir))).0, "invalid_name");
        std::fs::write(&a, "# nothing yet\n").unwrap();
        std::fs::write(&b, "flows: {}\n").unwrap();
        assert_eq!(code(load(std::slice::from_ref(&dir))).0, "nothing_declared");
        assert_eq!(code(load(&[dir.join("missing.yaml")])).0, "unreadable_file");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
