//! The plan: what `apply` would create, change and delete, in the order it does it, with a
//! per-field diff (nested paths, old → new) of the normalized specs.

use std::collections::BTreeSet;

use chrono::Utc;
use serde::Serialize;
use serde_json::{Map, Value};
use shared::model::{AccessFlowSpec, Integration, IntegrationSpec};
use shared::validation::ValidationErrors;

use super::files::Declared;
use super::state::{Deployed, normalize_flow};
use crate::error::{CliError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Integration,
    Flow,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integration => "integration",
            Self::Flow => "flow",
        }
    }

    pub fn path(self, name: &str) -> String {
        match self {
            Self::Integration => format!("/integrations/{name}"),
            Self::Flow => format!("/flows/{name}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
}

/// One field that differs; `old` or `new` is absent when the field is unset on that side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub action: Action,
    pub kind: Kind,
    pub name: String,
    /// The file that declares it (absent for a delete).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The CloudFormation resource that manages it (an update under `--include-stack-managed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    pub fields: Vec<FieldChange>,
    /// What a create or update PUTs: the spec as the file wrote it.
    #[serde(skip)]
    pub body: Option<Value>,
}

/// What a CloudFormation stack manages that `--prune` would otherwise delete: left to the stack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeftToStack {
    pub kind: Kind,
    pub name: String,
    pub managed_by: String,
}

/// Whether records a CloudFormation stack manages may be changed from the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackManaged {
    /// A declared change to one is refused (`stack_managed`): the default.
    Refuse,
    /// `--include-stack-managed`: declared changes to them are applied too.
    Include,
}

#[derive(Debug, Default, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Never deleted by `--prune`, whatever the flags.
    pub left_to_stack: Vec<LeftToStack>,
}

impl Plan {
    pub fn count(&self, a: Action) -> usize {
        self.changes.iter().filter(|c| c.action == a).count()
    }

    pub fn summary(&self) -> String {
        format!(
            "{} to create, {} to change, {} to delete",
            self.count(Action::Create),
            self.count(Action::Update),
            self.count(Action::Delete)
        )
    }

    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "changes": self.changes,
            "create": self.count(Action::Create),
            "update": self.count(Action::Update),
            "delete": self.count(Action::Delete),
            "left_to_stack": self.left_to_stack,
        })
    }

    /// The plan for people: one block per change, one line per field.
    pub fn render(&self) -> String {
        let left = self.left_to_stack.iter().map(|l| {
            format!(
                "= {} {}  (no file declares it, but {} manages it: --prune leaves it to the stack)",
                l.kind.as_str(),
                l.name,
                l.managed_by
            )
        });
        if self.changes.is_empty() {
            return std::iter::once("No changes: what is deployed matches the files.".into())
                .chain(left)
                .collect::<Vec<_>>()
                .join("\n");
        }
        let mut out = Vec::new();
        for c in &self.changes {
            let file = c.file.as_deref().unwrap_or("");
            let (sign, from) = match (c.action, &c.managed_by) {
                (Action::Create, _) => ("+", format!("  ({file})")),
                (Action::Update, None) => ("~", format!("  ({file})")),
                (Action::Update, Some(stack)) => (
                    "~",
                    format!("  ({file}; managed by {stack}: --include-stack-managed)"),
                ),
                (Action::Delete, _) => ("-", "  (no file declares it: --prune deletes it)".into()),
            };
            out.push(format!("{sign} {} {}{from}", c.kind.as_str(), c.name));
            for f in &c.fields {
                out.push(match c.action {
                    Action::Create => format!("    {}: {}", f.path, shown(f.new.as_ref())),
                    _ => format!(
                        "    {}: {} → {}",
                        f.path,
                        shown(f.old.as_ref()),
                        shown(f.new.as_ref())
                    ),
                });
            }
        }
        out.extend(left);
        out.push(String::new());
        out.push(format!("Plan: {}.", self.summary()));
        out.join("\n")
    }
}

fn shown(v: Option<&Value>) -> String {
    v.map_or_else(|| "(unset)".into(), Value::to_string)
}

/// The plan from the files to what is deployed; refused (nothing to apply) when a flow names
/// an integration that will not exist, a kind would change, a declared spec breaks a rule the
/// API checks (the same rules and codes: shared::model's validation), or it would change what
/// a CloudFormation stack manages (unless `stack` includes those). `--prune` never deletes
/// what a stack manages: two tools each deleting and recreating the other's record would
/// fight over it, and a stack deletes its own records when they leave its template.
pub fn build(
    declared: &Declared,
    deployed: &Deployed,
    prune: bool,
    stack: StackManaged,
) -> Result<Plan> {
    check_references(declared, deployed, prune)?;
    let mut plan = Plan::default();
    for (name, item) in &declared.integrations {
        let old = deployed.integrations.get(name);
        if let Some(old) = old {
            if old == &item.spec {
                continue;
            }
            let managed = deployed.stack_integrations.get(name);
            refuse_stack_managed(stack, managed, &item.file, Kind::Integration, name)?;
            if old.kind != item.spec.kind {
                return Err(CliError::input(
                    "immutable_field",
                    format!(
                        "{}: integration {name}: kind cannot change from {} to {}; delete and \
                         re-register it",
                        item.file,
                        old.kind.as_str(),
                        item.spec.kind.as_str()
                    ),
                ));
            }
        }
        item.spec
            .validate(name)
            .map_err(|e| invalid(&item.file, "integration", name, &e))?;
        let mut change = put(
            Kind::Integration,
            name,
            &item.file,
            old.map(to_value),
            to_value(&item.spec),
        );
        change.managed_by = deployed.stack_integrations.get(name).cloned();
        plan.changes.push(change);
    }
    for (name, item) in &declared.flows {
        let new = normalize_flow(item.spec.clone());
        let old = deployed.flows.get(name);
        if old == Some(&new) {
            continue;
        }
        let managed = deployed.stack_flows.get(name);
        refuse_stack_managed(stack, managed, &item.file, Kind::Flow, name)?;
        validate_flow(declared, deployed, name, &item.spec)
            .map_err(|e| invalid(&item.file, "flow", name, &e))?;
        let mut change = put(
            Kind::Flow,
            name,
            &item.file,
            old.map(to_value),
            to_value(&new),
        );
        change.body = Some(to_value(&item.spec));
        change.managed_by = managed.cloned();
        plan.changes.push(change);
    }
    if prune {
        for name in deployed.flows.keys() {
            if declared.flows.contains_key(name) {
                continue;
            }
            match deployed.stack_flows.get(name) {
                Some(s) => plan.left_to_stack.push(left(Kind::Flow, name, s)),
                None => plan.changes.push(delete(Kind::Flow, name)),
            }
        }
        for name in deployed.integrations.keys() {
            if declared.integrations.contains_key(name) {
                continue;
            }
            match deployed.stack_integrations.get(name) {
                Some(s) => plan.left_to_stack.push(left(Kind::Integration, name, s)),
                None => {
                    refuse_prune_under_stack_flow(deployed, name, &plan.left_to_stack)?;
                    plan.changes.push(delete(Kind::Integration, name));
                }
            }
        }
    }
    Ok(plan)
}

/// A declared change to what a stack manages: refused unless `--include-stack-managed`.
fn refuse_stack_managed(
    stack: StackManaged,
    managed: Option<&String>,
    file: &str,
    kind: Kind,
    name: &str,
) -> Result<()> {
    match (stack, managed) {
        (StackManaged::Refuse, Some(by)) => Err(CliError::input(
            "stack_managed",
            format!(
                "{file}: {} {name} is managed by {by} and differs from the file: change it in \
                 that stack's template or leave it out of the files (--include-stack-managed \
                 changes it anyway, and the template then no longer says what is deployed)",
                kind.as_str()
            ),
        )),
        _ => Ok(()),
    }
}

/// An integration `--prune` would delete while a flow a stack manages (which stays) names it:
/// the API would refuse the delete half-way (`integration_in_use`), so it is refused here with
/// that code before anything is applied.
fn refuse_prune_under_stack_flow(
    deployed: &Deployed,
    integration: &str,
    left: &[LeftToStack],
) -> Result<()> {
    let users: Vec<&str> = left
        .iter()
        .filter(|l| l.kind == Kind::Flow)
        .filter(|l| {
            deployed
                .flows
                .get(&l.name)
                .is_some_and(|f| f.integrations().contains(&integration))
        })
        .map(|l| l.name.as_str())
        .collect();
    if users.is_empty() {
        return Ok(());
    }
    Err(CliError::input(
        "integration_in_use",
        format!(
            "--prune would delete integration {integration}, which no file declares, but flows a \
             CloudFormation stack manages name it ({}): declare it, or remove them from their \
             stack",
            users.join(", ")
        ),
    ))
}

fn left(kind: Kind, name: &str, managed_by: &str) -> LeftToStack {
    LeftToStack {
        kind,
        name: name.to_string(),
        managed_by: managed_by.to_string(),
    }
}

fn to_value<T: Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or_default()
}

fn put(kind: Kind, name: &str, file: &str, old: Option<Value>, new: Value) -> Change {
    let mut fields = Vec::new();
    let action = if old.is_some() {
        Action::Update
    } else {
        Action::Create
    };
    let empty = Value::Object(Map::new());
    diff(
        "",
        Some(old.as_ref().unwrap_or(&empty)),
        Some(&new),
        &mut fields,
    );
    Change {
        action,
        kind,
        name: name.to_string(),
        file: Some(file.to_string()),
        managed_by: None,
        fields,
        body: Some(new),
    }
}

fn delete(kind: Kind, name: &str) -> Change {
    Change {
        action: Action::Delete,
        kind,
        name: name.to_string(),
        file: None,
        managed_by: None,
        fields: vec![],
        body: None,
    }
}

fn invalid(file: &str, what: &str, name: &str, e: &ValidationErrors) -> CliError {
    CliError::input(
        e.0.first().map_or("invalid_field", |f| f.code),
        format!("{file}: {what} {name}: {e}"),
    )
}

/// Every integration a declared flow names must be declared, or exist and stay (not pruned).
fn check_references(declared: &Declared, deployed: &Deployed, prune: bool) -> Result<()> {
    for (name, item) in &declared.flows {
        for i in item.spec.integrations() {
            if i.is_empty() || declared.integrations.contains_key(i) {
                continue;
            }
            // A stack's integration stays whatever --prune says.
            let stays = !prune || deployed.stack_integrations.contains_key(i);
            let why = match (deployed.integrations.contains_key(i), stays) {
                (false, _) => "which no file declares and which does not exist",
                (true, false) => "which no file declares, so --prune would delete it",
                (true, true) => continue,
            };
            return Err(CliError::input(
                "unknown_integration",
                format!("{}: flow {name} names integration {i}, {why}", item.file),
            ));
        }
    }
    Ok(())
}

/// A flow checked as the API will check it, against the integration it will have (declared,
/// else deployed).
fn validate_flow(
    declared: &Declared,
    deployed: &Deployed,
    name: &str,
    spec: &AccessFlowSpec,
) -> std::result::Result<(), ValidationErrors> {
    let find = |i: &str| {
        declared
            .integrations
            .get(i)
            .map(|d| &d.spec)
            .or_else(|| deployed.integrations.get(i))
            .map(|s| as_integration(i, s))
    };
    match &spec.bundle {
        Some(items) => {
            let found: Vec<Option<Integration>> =
                items.iter().map(|it| find(&it.integration)).collect();
            spec.validate_bundle(name, &found)
        }
        None => spec.validate(name, find(&spec.integration).as_ref()),
    }
}

/// A spec as a stored integration, for the flow rules that look at it (its kind, owners and
/// custom permissions); the times and version play no part in them.
fn as_integration(name: &str, spec: &IntegrationSpec) -> Integration {
    let now = Utc::now();
    Integration {
        name: name.to_string(),
        spec: spec.clone(),
        version: 0,
        created_at: now,
        updated_at: now,
        last_discovery_at: None,
        last_discovery_error: None,
        pending_retires: vec![],
        managed_by: None,
    }
}

/// The fields that differ between two JSON values, by dotted path; objects are compared key
/// by key, anything else (strings, lists) whole.
pub fn diff(path: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<FieldChange>) {
    if old == new {
        return;
    }
    let object = |v: Option<&Value>| match v {
        Some(Value::Object(m)) => Some(m.clone()),
        None => Some(Map::new()),
        Some(_) => None,
    };
    match (object(old), object(new)) {
        (Some(a), Some(b)) if old.is_some() || new.is_some() => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff(&p, a.get(k), b.get(k), out);
            }
        }
        _ => out.push(FieldChange {
            path: path.to_string(),
            old: old.cloned(),
            new: new.cloned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::files::{Item, parse};
    use super::*;
    use serde_json::json;

    const FILE: &str = "\
integrations:
  search:
    kind: elasticsearch
    url: https://es:9200
    secret_arn: arn:aws:secretsmanager:us-east-1:111122223333:secret:ejit/connector/search-AbCdEf
    integration_owners: [{type: group, value: platform}]
flows:
  logs:
    integration: search
    requesters: [{type: group, value: dev}]
    resources: ['logs-*']
    permissions: [read]
    approval: {rule: any}
    approvers: [{type: user, value: alice@example.com}]
  bundle:
    requesters: [{type: group, value: dev}]
    bundle:
      - {integration: search, resources: ['a-*'], permission: read}
      - {integration: search, resources: ['b-*'], permission: write}
";

    fn declared(text: &str) -> Declared {
        let mut d = Declared::default();
        for doc in parse("f.yaml", text).unwrap() {
            for (n, spec) in doc.integrations.0 {
                d.integrations.insert(
                    n,
                    Item {
                        spec,
                        file: "f.yaml".into(),
                    },
                );
            }
            for (n, spec) in doc.flows.0 {
                d.flows.insert(
                    n,
                    Item {
                        spec,
                        file: "f.yaml".into(),
                    },
                );
            }
        }
        d
    }

    /// What is deployed after applying `d`: each spec as the API stores it.
    fn deployed(d: &Declared) -> Deployed {
        Deployed {
            integrations: d
                .integrations
                .iter()
                .map(|(n, i)| (n.clone(), i.spec.clone()))
                .collect(),
            flows: d
                .flows
                .iter()
                .map(|(n, i)| (n.clone(), normalize_flow(i.spec.clone())))
                .collect(),
            ..Deployed::default()
        }
    }

    fn order(p: &Plan) -> Vec<(Action, Kind, &str)> {
        p.changes
            .iter()
            .map(|c| (c.action, c.kind, c.name.as_str()))
            .collect()
    }

    #[test]
    fn integrations_are_created_before_flows_and_deleted_after_them() {
        let d = declared(FILE);
        let p = build(&d, &Deployed::default(), false, StackManaged::Refuse).unwrap();
        assert_eq!(
            order(&p),
            [
                (Action::Create, Kind::Integration, "search"),
                (Action::Create, Kind::Flow, "bundle"),
                (Action::Create, Kind::Flow, "logs"),
            ]
        );
        assert!(
            p.changes[0].fields.iter().any(|f| f.path == "kind"
                && f.old.is_none()
                && f.new == Some(json!("elasticsearch")))
        );
        // Applied, the same files change nothing.
        let now = deployed(&d);
        assert!(
            build(&d, &now, true, StackManaged::Refuse)
                .unwrap()
                .changes
                .is_empty()
        );
        // Only the integration declared now: without --prune nothing to do; with it the flows
        // go first. A flow declared without its integration under --prune is refused.
        let only = declared(&FILE[..FILE.find("flows:").unwrap()]);
        assert!(
            build(&only, &now, false, StackManaged::Refuse)
                .unwrap()
                .changes
                .is_empty()
        );
        assert_eq!(
            order(&build(&only, &now, true, StackManaged::Refuse).unwrap()),
            [
                (Action::Delete, Kind::Flow, "bundle"),
                (Action::Delete, Kind::Flow, "logs")
            ]
        );
        let flows_only = declared(&format!(
            "flows:{}",
            &FILE[FILE.find("flows:").unwrap() + 6..]
        ));
        assert!(
            build(&flows_only, &now, false, StackManaged::Refuse)
                .unwrap()
                .changes
                .is_empty()
        );
        let e = build(&flows_only, &now, true, StackManaged::Refuse).unwrap_err();
        assert!(e.to_string().contains("(unknown_integration)"), "{e}");
        let e = build(
            &flows_only,
            &Deployed::default(),
            false,
            StackManaged::Refuse,
        )
        .unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
    }

    #[test]
    fn a_change_shows_each_field_by_its_path_old_to_new() {
        let d = declared(FILE);
        let now = deployed(&d);
        let changed = declared(
            &FILE
                .replace(
                    "approval: {rule: any}",
                    "approval: {rule: any, require_reason: true}",
                )
                .replace(
                    "permissions: [read]",
                    "permissions: [read]\n    max_duration: 4h",
                ),
        );
        let p = build(&changed, &now, false, StackManaged::Refuse).unwrap();
        assert_eq!(order(&p), [(Action::Update, Kind::Flow, "logs")]);
        assert_eq!(
            p.changes[0].fields,
            [
                FieldChange {
                    path: "approval.require_reason".into(),
                    old: Some(json!(false)),
                    new: Some(json!(true))
                },
                FieldChange {
                    path: "max_duration".into(),
                    old: None,
                    new: Some(json!("4h"))
                },
            ]
        );
        // What is PUT is the file's own text of it.
        assert_eq!(p.changes[0].body.as_ref().unwrap()["max_duration"], "4h");
        let text = p.render();
        assert!(text.contains("~ flow logs  (f.yaml)"), "{text}");
        assert!(
            text.contains("    approval.require_reason: false → true"),
            "{text}"
        );
        assert!(
            text.contains("    max_duration: (unset) → \"4h\""),
            "{text}"
        );
        assert!(
            text.ends_with("Plan: 0 to create, 1 to change, 0 to delete."),
            "{text}"
        );
        assert_eq!(p.to_json()["update"], 1);
        // Spelling out a default is no change.
        let spelled = declared(&FILE.replace(
            "permissions: [read]",
            "permissions: [read]\n    max_duration: 480m\n    credential_mode: user",
        ));
        assert!(
            build(&spelled, &now, false, StackManaged::Refuse)
                .unwrap()
                .changes
                .is_empty()
        );
    }

    #[test]
    fn what_the_api_would_refuse_is_refused_before_anything_is_applied() {
        let d = declared(FILE);
        let now = deployed(&d);
        let cloud = declared(&FILE.replace("kind: elasticsearch", "kind: elastic_cloud"));
        let e = build(&cloud, &now, false, StackManaged::Refuse).unwrap_err();
        assert!(e.to_string().contains("(immutable_field)"), "{e}");
        let e = build(
            &declared(&FILE.replace("[read]", "[admin]")),
            &now,
            false,
            StackManaged::Refuse,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown_permission"), "{e}");
        assert!(e.to_string().starts_with("f.yaml: flow logs: "), "{e}");
        assert_eq!(e.exit_code(), 6);
    }

    const STACK: &str = "cloudformation:arn:aws:cloudformation:eu-west-1:111122223333:stack/search-access/5b3f1c20/Logs";

    /// `search` and its flow `logs` made by a CloudFormation stack, `bundle` through the API.
    fn stack_managed() -> (Declared, Deployed) {
        let d = declared(FILE);
        let mut now = deployed(&d);
        now.stack_integrations.insert("search".into(), STACK.into());
        now.stack_flows.insert("logs".into(), STACK.into());
        (d, now)
    }

    /// Two tools must not fight over one record: `--prune` never deletes what a stack manages
    /// (whatever the flags), a change to it is refused unless asked for, and the stack's
    /// integration is not deleted from under the stack's flow.
    #[test]
    fn what_a_stack_manages_is_left_to_the_stack() {
        let (d, now) = stack_managed();
        // Declared as deployed: nothing to do either way.
        assert!(
            build(&d, &now, true, StackManaged::Refuse)
                .unwrap()
                .changes
                .is_empty()
        );

        // Nothing declared, --prune: only the API's flow goes; the stack's are listed as left.
        for stack in [StackManaged::Refuse, StackManaged::Include] {
            let p = build(&Declared::default(), &now, true, stack).unwrap();
            assert_eq!(order(&p), [(Action::Delete, Kind::Flow, "bundle")]);
            assert_eq!(
                p.left_to_stack,
                [
                    left(Kind::Flow, "logs", STACK),
                    left(Kind::Integration, "search", STACK)
                ]
            );
            let text = p.render();
            assert!(
                text.contains(&format!(
                    "= integration search  (no file declares it, but {STACK} manages it: --prune \
                     leaves it to the stack)"
                )),
                "{text}"
            );
            assert_eq!(p.to_json()["left_to_stack"][0]["name"], "logs");
            assert_eq!(p.to_json()["delete"], 1);
        }
        // Only the API's flow declared (naming the stack's integration), --prune: it may, as
        // the integration stays; no changes, and the plan says what it left.
        let bundle_only = declared(&format!(
            "flows:\n  bundle:{}",
            &FILE[FILE.find("  bundle:").unwrap() + 9..]
        ));
        let p = build(&bundle_only, &now, true, StackManaged::Refuse).unwrap();
        assert!(p.changes.is_empty());
        assert!(
            p.render()
                .starts_with("No changes: what is deployed matches the files.\n= flow logs")
        );

        // A change to the stack's flow: refused, naming the stack and the way out.
        let changed =
            declared(&FILE.replace("resources: ['logs-*']", "resources: ['logs-*', 'audit-*']"));
        let e = build(&changed, &now, false, StackManaged::Refuse).unwrap_err();
        assert_eq!(e.exit_code(), 6);
        let m = e.to_string();
        assert!(m.contains("(stack_managed)") && m.contains(STACK), "{m}");
        assert!(m.starts_with("f.yaml: flow logs is managed by"), "{m}");
        assert!(m.contains("--include-stack-managed"), "{m}");
        // And to the stack's integration.
        let changed_integration = declared(&FILE.replace("https://es:9200", "https://es2:9200"));
        let e = build(&changed_integration, &now, false, StackManaged::Refuse).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("f.yaml: integration search is managed by"),
            "{e}"
        );
        // Asked for: the update, marked as the stack's.
        let p = build(&changed, &now, false, StackManaged::Include).unwrap();
        assert_eq!(order(&p), [(Action::Update, Kind::Flow, "logs")]);
        assert_eq!(p.changes[0].managed_by.as_deref(), Some(STACK));
        assert!(
            p.render().contains(&format!(
                "~ flow logs  (f.yaml; managed by {STACK}: --include-stack-managed)"
            )),
            "{}",
            p.render()
        );
        // The API's integration under the stack's flow: --prune cannot delete it (the API
        // would refuse half-way), so the plan is refused up front with the API's code.
        let mut api_integration = deployed(&d);
        api_integration
            .stack_flows
            .insert("logs".into(), STACK.into());
        let e = build(
            &Declared::default(),
            &api_integration,
            true,
            StackManaged::Include,
        )
        .unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("(integration_in_use)") && m.contains("(logs)"),
            "{m}"
        );
    }

    #[test]
    fn a_diff_walks_objects_and_compares_lists_whole() {
        let mut out = vec![];
        diff(
            "",
            Some(&json!({"a": {"b": 1, "c": [1, 2]}, "d": "x"})),
            Some(&json!({"a": {"b": 2, "c": [1, 2, 3]}, "e": {"f": true}})),
            &mut out,
        );
        let paths: Vec<(&str, Option<Value>, Option<Value>)> = out
            .iter()
            .map(|f| (f.path.as_str(), f.old.clone(), f.new.clone()))
            .collect();
        assert_eq!(
            paths,
            [
                ("a.b", Some(json!(1)), Some(json!(2))),
                ("a.c", Some(json!([1, 2])), Some(json!([1, 2, 3]))),
                ("d", Some(json!("x")), None),
                ("e.f", None, Some(json!(true))),
            ]
        );
    }
}
