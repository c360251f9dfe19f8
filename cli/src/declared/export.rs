//! `export`: what is deployed, written as declaration files that `plan` reads back as no change.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_yaml_ng::Value as YamlValue;

use super::files::{Document, Named, to_yaml};
use super::state::Deployed;
use crate::error::{CliError, Result};
use shared::model::{AccessFlowSpec, IntegrationSpec};
use shared::validation::{ValidationErrors, check_name};

pub type Doc = Document<YamlValue, YamlValue>;

/// What export leaves out, one line each: what a CloudFormation stack manages is declared in
/// its template, and a second declaration in files would have two tools fight over it (`plan`
/// leaves undeclared stack records alone, so the export still plans as no change).
pub fn left_out(d: &Deployed) -> Vec<String> {
    let line = |kind: &str, (name, by): (&String, &String)| {
        format!("left out {kind} {name}: {by} manages it")
    };
    d.stack_integrations
        .iter()
        .map(|e| line("integration", e))
        .chain(d.stack_flows.iter().map(|e| line("flow", e)))
        .collect()
}

/// Export writes, by name, what no stack manages.
type Exported<'a, T> = Vec<(&'a String, &'a T)>;

/// The integrations and flows export writes: those no stack manages.
fn exported(d: &Deployed) -> (Exported<'_, IntegrationSpec>, Exported<'_, AccessFlowSpec>) {
    (
        d.integrations
            .iter()
            .filter(|(n, _)| !d.stack_integrations.contains_key(*n))
            .collect(),
        d.flows
            .iter()
            .filter(|(n, _)| !d.stack_flows.contains_key(*n))
            .collect(),
    )
}

/// Everything in one document, each spec without the fields that only repeat a default.
pub fn document(d: &Deployed) -> Doc {
    let (integrations, flows) = exported(d);
    Document {
        integrations: Named(
            integrations
                .into_iter()
                .map(|(n, s)| (n.clone(), without_defaults(s)))
                .collect(),
        ),
        flows: Named(
            flows
                .into_iter()
                .map(|(n, s)| (n.clone(), without_defaults(s)))
                .collect(),
        ),
    }
}

/// One document per integration, named after it, holding the flows that name it first (a
/// bundle goes with its first item's integration), so every flow is in exactly one file.
pub fn per_integration(d: &Deployed) -> Vec<(String, Doc)> {
    let (integrations, flows) = exported(d);
    let mut files: Vec<(String, Doc)> = integrations
        .into_iter()
        .map(|(n, s)| {
            (
                n.clone(),
                Document {
                    integrations: Named(vec![(n.clone(), without_defaults(s))]),
                    flows: Named(vec![]),
                },
            )
        })
        .collect();
    for (n, s) in flows {
        let home = s
            .integrations()
            .first()
            .copied()
            .unwrap_or_default()
            .to_string();
        let flow = (n.clone(), without_defaults(s));
        match files.iter_mut().find(|(f, _)| *f == home) {
            Some((_, doc)) => doc.flows.0.push(flow),
            None => files.push((
                home,
                Document {
                    integrations: Named(vec![]),
                    flows: Named(vec![flow]),
                },
            )),
        }
    }
    files
}

/// The spec without each field (at any depth) whose absence parses back to the same spec:
/// the API's own defaults decide, so nothing here repeats them. YAML keeps the fields in the
/// spec's own order (kind first), which JSON maps here do not.
pub fn without_defaults<T: Serialize + DeserializeOwned + PartialEq>(spec: &T) -> YamlValue {
    let mut v = serde_json::to_value(spec).unwrap_or_default();
    let mut paths = Vec::new();
    collect(&v, &mut vec![], &mut paths);
    let mut removed = Vec::new();
    // Deepest first, so an object emptied of defaults can go too.
    for p in paths.iter().rev() {
        let Some((last, parent)) = p.split_last() else {
            continue;
        };
        let Some(kept) = remove_at(&mut v, parent, last) else {
            continue;
        };
        if serde_json::from_value::<T>(v.clone()).ok().as_ref() == Some(spec) {
            removed.push(p.clone());
        } else if let Some(o) = parent
            .iter()
            .try_fold(&mut v, |v, k| v.get_mut(k.as_str()))
            .and_then(Value::as_object_mut)
        {
            o.insert(last.clone(), kept);
        }
    }
    let mut y = serde_yaml_ng::to_value(spec).unwrap_or(YamlValue::Null);
    for p in &removed {
        if let Some((last, parent)) = p.split_last()
            && let Some(m) = parent
                .iter()
                .try_fold(&mut y, |y, k| y.get_mut(k.as_str()))
                .and_then(YamlValue::as_mapping_mut)
        {
            m.remove(last.as_str());
        }
    }
    y
}

fn remove_at(v: &mut Value, parent: &[String], last: &str) -> Option<Value> {
    parent
        .iter()
        .try_fold(v, |v, k| v.get_mut(k.as_str()))
        .and_then(Value::as_object_mut)
        .and_then(|o| o.remove(last))
}

fn collect(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Value::Object(m) = v {
        for (k, child) in m {
            at.push(k.clone());
            out.push(at.clone());
            collect(child, at, out);
            at.pop();
        }
    }
}

/// Where export writes: a file, or a directory (existing, or named with a trailing `/`; one
/// file per integration). Existing files are replaced only with `--force`, and all are
/// checked before any is written.
pub fn write(d: &Deployed, to: &Path, force: bool) -> Result<Vec<PathBuf>> {
    let dir = to.is_dir() || to.as_os_str().to_string_lossy().ends_with(['/', '\\']);
    if dir {
        std::fs::create_dir_all(to)
            .map_err(|e| CliError::input("unwritable_file", format!("{}: {e}", to.display())))?;
    }
    let files: Vec<(PathBuf, String)> = if dir {
        per_integration(d)
            .iter()
            .map(|(n, doc)| Ok((to.join(file_name(n)?), to_yaml(doc)?)))
            .collect::<Result<_>>()?
    } else {
        vec![(to.to_path_buf(), to_yaml(&document(d))?)]
    };
    // A symlink counts as existing even when it points nowhere (`exists` follows it).
    if !force && let Some((p, _)) = files.iter().find(|(p, _)| p.symlink_metadata().is_ok()) {
        return Err(CliError::input(
            "file_exists",
            format!(
                "{} exists: nothing was written (--force replaces it)",
                p.display()
            ),
        ));
    }
    for (p, text) in &files {
        write_file(p, text, force)
            .map_err(|e| CliError::input("unwritable_file", format!("{}: {e}", p.display())))?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

/// `<name>.yaml` for an integration the API named: a name that is not a valid one (a path, `..`,
/// empty) would put the file somewhere else, so it is refused.
fn file_name(name: &str) -> Result<String> {
    let mut e = ValidationErrors::default();
    check_name(&mut e, "name", name);
    e.into_result().map_err(|e| {
        CliError::config(format!(
            "the API answered an integration name a file cannot be named after ({e}): nothing \
             was written"
        ))
    })?;
    Ok(format!("{name}.yaml"))
}

/// Write `text` to `path` itself, never through a symlink someone put there: a new file is
/// created exclusively (which fails on any existing entry, a dangling link too), and `force`
/// writes a new file beside it and renames it over the path, replacing the link, not its
/// target.
fn write_file(path: &Path, text: &str, force: bool) -> std::io::Result<()> {
    use std::io::Write;
    let create = |p: &Path| {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(p)?
            .write_all(text.as_bytes())
    };
    if !force {
        return create(path);
    }
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", uuid::Uuid::new_v4()));
    let written = create(&temporary).and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::super::files::parse;
    use super::super::plan::{StackManaged, build};
    use super::super::state::normalize_flow;
    use super::*;
    use crate::declared::files::{Declared, Item};

    #[test]
    fn an_export_repeats_no_default_and_reads_back_as_no_change() {
        let mut d = Deployed::default();
        let i: IntegrationSpec = serde_json::from_value(serde_json::json!({
            "kind": "elasticsearch", "url": "https://es:9200", "secret_arn": "arn:x",
            "tls": {}, "discovery": {"include": ["*"], "exclude": []},
            "integration_owners": [{"type": "group", "value": "p"}]}))
        .unwrap();
        let f: AccessFlowSpec = serde_json::from_value(serde_json::json!({
            "integration": "search", "requesters": [], "max_duration": "8h",
            "approval_window": "1day", "auto_approve": false, "credential_mode": "user"}))
        .unwrap();
        d.integrations.insert("search".into(), i);
        d.flows.insert("logs".into(), normalize_flow(f));
        let text = to_yaml(&document(&d)).unwrap();
        assert_eq!(
            text,
            "integrations:\n  search:\n    kind: elasticsearch\n    url: https://es:9200\n    \
             secret_arn: arn:x\n    integration_owners:\n    - type: group\n      value: p\n\
             flows:\n  logs:\n    integration: search\n    requesters: []\n"
        );
        let mut back = Declared::default();
        for doc in parse("e.yaml", &text).unwrap() {
            for (n, spec) in doc.integrations.0 {
                back.integrations.insert(
                    n,
                    Item {
                        spec,
                        file: "e.yaml".into(),
                    },
                );
            }
            for (n, spec) in doc.flows.0 {
                back.flows.insert(
                    n,
                    Item {
                        spec,
                        file: "e.yaml".into(),
                    },
                );
            }
        }
        assert!(
            build(&back, &d, true, StackManaged::Refuse)
                .unwrap()
                .changes
                .is_empty()
        );
        let split = per_integration(&d);
        assert_eq!(split.len(), 1);
        assert_eq!(split[0].1.flows.0[0].0, "logs");
        // A directory named with a trailing slash is made; a second export does not overwrite.
        let root = std::env::temp_dir().join(format!("ejit-export-{}", uuid::Uuid::new_v4()));
        let to = PathBuf::from(format!("{}/", root.display()));
        assert_eq!(write(&d, &to, false).unwrap(), [root.join("search.yaml")]);
        match write(&d, &to, false).unwrap_err() {
            CliError::Input { code, .. } => assert_eq!(code, "file_exists"),
            other => panic!("{other:?}"),
        }
        assert_eq!(write(&d, &to, true).unwrap().len(), 1);
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn one_integration(name: &str) -> Deployed {
        let mut d = Deployed::default();
        let i: IntegrationSpec = serde_json::from_value(serde_json::json!({
            "kind": "elasticsearch", "url": "https://es:9200", "secret_arn": "arn:x"}))
        .unwrap();
        d.integrations.insert(name.into(), i);
        d
    }

    /// What a stack manages is its template's to declare: export leaves it out and says so,
    /// and the export still plans as no change (a flow may name the stack's integration).
    #[test]
    fn an_export_leaves_out_what_a_stack_manages_and_still_plans_as_no_change() {
        let by = "cloudformation:arn:aws:cloudformation:eu-west-1:1:stack/s/1/Search";
        let mut d = one_integration("search");
        d.integrations
            .insert("stacked".into(), d.integrations["search"].clone());
        d.stack_integrations.insert("stacked".into(), by.into());
        let f: AccessFlowSpec = serde_json::from_value(serde_json::json!({
            "integration": "stacked", "requesters": []}))
        .unwrap();
        d.flows.insert("api-flow".into(), normalize_flow(f.clone()));
        d.flows.insert("stack-flow".into(), normalize_flow(f));
        d.stack_flows.insert("stack-flow".into(), by.into());
        assert_eq!(
            left_out(&d),
            [
                format!("left out integration stacked: {by} manages it"),
                format!("left out flow stack-flow: {by} manages it"),
            ]
        );
        let text = to_yaml(&document(&d)).unwrap();
        assert!(
            !text.contains("stacked:") && !text.contains("stack-flow"),
            "{text}"
        );
        assert!(
            text.contains("api-flow:") && text.contains("search:"),
            "{text}"
        );
        let mut back = Declared::default();
        for doc in parse("e.yaml", &text).unwrap() {
            for (n, spec) in doc.integrations.0 {
                let file = "e.yaml".into();
                back.integrations.insert(n, Item { spec, file });
            }
            for (n, spec) in doc.flows.0 {
                let file = "e.yaml".into();
                back.flows.insert(n, Item { spec, file });
            }
        }
        let p = build(&back, &d, true, StackManaged::Refuse).unwrap();
        assert!(p.changes.is_empty(), "{}", p.render());
        assert_eq!(p.left_to_stack.len(), 2);
        // Per integration: the API's flow goes to a file of the stack's integration's name,
        // holding only that flow.
        let split = per_integration(&d);
        let names: Vec<&str> = split.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["search", "stacked"]);
        assert!(split[1].1.integrations.0.is_empty());
        assert_eq!(split[1].1.flows.0.len(), 1);
    }

    /// In a shared folder someone else may have put `search.yaml` there as a symlink: export
    /// writes the folder's own file, never where the link points (a dangling link is an
    /// existing file too).
    #[cfg(unix)]
    #[test]
    fn an_export_never_writes_through_a_symlink() {
        let root = std::env::temp_dir().join(format!("ejit-export-{}", uuid::Uuid::new_v4()));
        let dir = root.join("access");
        std::fs::create_dir_all(&dir).unwrap();
        let victim = root.join("victim");
        let link = dir.join("search.yaml");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let d = one_integration("search");
        match write(&d, &dir, false).unwrap_err() {
            CliError::Input { code, .. } => assert_eq!(code, "file_exists"),
            other => panic!("{other:?}"),
        }
        assert!(!victim.exists(), "export created the symlink's target");
        std::fs::write(&victim, "keep me").unwrap();
        assert_eq!(write(&d, &dir, true).unwrap(), std::slice::from_ref(&link));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert!(!link.symlink_metadata().unwrap().file_type().is_symlink());
        assert!(std::fs::read_to_string(&link).unwrap().contains("search"));
        // Nothing but the export itself is left in the folder.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// File names come from the API's names: one that is not a valid name (a path, `..`) is
    /// refused before anything is written, so no answer can put a file outside the folder.
    #[test]
    fn an_export_refuses_a_name_that_would_leave_its_folder() {
        let root = std::env::temp_dir().join(format!("ejit-export-{}", uuid::Uuid::new_v4()));
        let dir = root.join("access");
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["../escaped", "/tmp/escaped", "a/b", ""] {
            match write(&one_integration(name), &dir, true).unwrap_err() {
                CliError::Config(m) => assert!(m.contains("name"), "{name}: {m}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(!root.join("escaped.yaml").exists());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
