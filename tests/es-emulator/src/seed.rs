//! Seed files: the fixtures an emulator starts with (and returns to on reset).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::catalog::{AliasProps, DataStream, Doc, Index};
use crate::documents::new_index;
use crate::ids;
use crate::roles::{parse_role, role_name_error};
use crate::state::State;
use crate::users::{User, is_reserved_user};
use crate::validation;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub indices: Vec<SeedIndex>,
    /// Many similar indices without listing each, for scale tests.
    #[serde(default)]
    pub generated_indices: Vec<SeedGenerated>,
    #[serde(default)]
    pub data_streams: Vec<SeedDataStream>,
    /// Extra aliases over already-declared indices.
    #[serde(default)]
    pub aliases: Vec<SeedAlias>,
    #[serde(default)]
    pub users: Vec<SeedUser>,
    /// Role name → role body, exactly as `PUT /_security/role/{name}` takes it.
    #[serde(default)]
    pub roles: BTreeMap<String, Value>,
    /// The cluster's licence (default: active basic, as a new cluster has).
    #[serde(default)]
    pub license: Option<crate::license::License>,
    /// Spaces of the tiny Kibana served beside the API (`GET /api/spaces/space`).
    #[serde(default)]
    pub kibana_spaces: Vec<crate::kibana::Space>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedIndex {
    pub name: String,
    #[serde(default)]
    pub mappings: Option<Map<String, Value>>,
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub system: bool,
    #[serde(default)]
    pub closed: bool,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub documents: Vec<SeedDoc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDoc {
    #[serde(default)]
    pub id: Option<String>,
    pub source: Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedGenerated {
    pub prefix: String,
    pub count: usize,
    /// Number the first index gets (default 0); names are `prefix` + zero-padded number.
    #[serde(default)]
    pub start: usize,
    /// Zero-padding width (default: digits of the largest number).
    #[serde(default)]
    pub width: Option<usize>,
    #[serde(default)]
    pub mappings: Option<Map<String, Value>>,
    #[serde(default)]
    pub hidden: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDataStream {
    pub name: String,
    #[serde(default, rename = "_meta", alias = "meta")]
    pub meta: Option<Map<String, Value>>,
    #[serde(default)]
    pub hidden: bool,
    /// Number of backing indices (default 1).
    #[serde(default)]
    pub generations: Option<u64>,
    #[serde(default)]
    pub mappings: Option<Map<String, Value>>,
    #[serde(default)]
    pub documents: Vec<SeedDoc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAlias {
    pub name: String,
    pub indices: Vec<String>,
    #[serde(default)]
    pub is_write_index: Option<bool>,
    #[serde(default)]
    pub is_hidden: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub username: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl Seed {
    pub fn from_json_str(text: &str) -> io::Result<Seed> {
        serde_json::from_str(text).map_err(|e| invalid(format!("invalid seed: {e}")))
    }

    pub fn from_file(path: impl AsRef<Path>) -> io::Result<Seed> {
        let text = std::fs::read_to_string(path.as_ref())?;
        Self::from_json_str(&text)
    }

    /// Loads the seed into `state`, refusing what the real APIs would refuse.
    pub fn apply(&self, state: &mut State) -> io::Result<()> {
        let now = state.now_millis();
        if let Some(l) = &self.license {
            if !l.is_known() {
                return Err(invalid(format!(
                    "seed license {l:?} is not a licence type and status"
                )));
            }
            state.license = l.clone();
        }
        state.kibana_spaces = self.kibana_spaces.clone();
        for (name, body) in &self.roles {
            if let Some(e) = role_name_error(name, false) {
                return Err(invalid(format!("seed role [{name}]: {e}")));
            }
            let rd = parse_role(name, body, false)
                .map_err(|e| invalid(format!("seed role [{name}]: {:?}", e.body)))?;
            let errors = rd.validation_errors();
            if !errors.is_empty() {
                return Err(invalid(format!(
                    "seed role [{name}]: {}",
                    errors.join("; ")
                )));
            }
            state.roles.insert(name.clone(), rd);
        }
        for u in &self.users {
            if let Some(pw) = &u.password
                && pw.chars().count() < validation::MIN_PASSWORD_LENGTH
            {
                return Err(invalid(format!(
                    "seed user [{}]: {}",
                    u.username,
                    validation::password_too_short()
                )));
            }
            if is_reserved_user(&u.username) {
                // Reserved users keep their roles; a seed may set their password or state.
                if let Some(existing) = state.users.get_mut(&u.username) {
                    if let Some(pw) = &u.password {
                        existing.password_hash = Some(ids::hash_password(pw));
                    }
                    existing.enabled = u.enabled;
                }
                continue;
            }
            if !validation::is_valid_name(&u.username) {
                return Err(invalid(validation::name_rule_message("User names")));
            }
            let password = u
                .password
                .as_deref()
                .ok_or_else(|| invalid(format!("seed user [{}] needs a password", u.username)))?;
            state.users.insert(
                u.username.clone(),
                User {
                    username: u.username.clone(),
                    password_hash: Some(ids::hash_password(password)),
                    roles: u.roles.clone(),
                    full_name: u.full_name.clone(),
                    email: u.email.clone(),
                    metadata: u.metadata.clone(),
                    enabled: u.enabled,
                    reserved: false,
                },
            );
        }
        for si in &self.indices {
            if let Some(why) = crate::catalog::invalid_index_name(&si.name) {
                return Err(invalid(format!("seed index [{}]: {why}", si.name)));
            }
            let mut ix = new_index(
                &si.name,
                si.mappings.clone().unwrap_or_default(),
                si.hidden,
                now,
            );
            ix.system = si.system;
            ix.closed = si.closed;
            add_docs(&mut ix, &si.documents);
            state.catalog.add_index(ix);
            for a in &si.aliases {
                state.catalog.add_alias(a, &si.name, AliasProps::default());
            }
        }
        for g in &self.generated_indices {
            let last = g.start + g.count.saturating_sub(1);
            let width = g.width.unwrap_or_else(|| last.to_string().len());
            for n in g.start..g.start + g.count {
                let name = format!("{}{:0width$}", g.prefix, n);
                let ix = new_index(&name, g.mappings.clone().unwrap_or_default(), g.hidden, now);
                state.catalog.add_index(ix);
            }
        }
        for ds in &self.data_streams {
            add_data_stream(state, ds, now);
        }
        for a in &self.aliases {
            for i in &a.indices {
                if !state.catalog.indices.contains_key(i) {
                    return Err(invalid(format!(
                        "seed alias [{}]: no such index [{i}]",
                        a.name
                    )));
                }
                let props = AliasProps {
                    is_write_index: a.is_write_index,
                    is_hidden: a.is_hidden,
                };
                state.catalog.add_alias(&a.name, i, props);
            }
        }
        Ok(())
    }
}

fn add_docs(ix: &mut Index, docs: &[SeedDoc]) {
    for d in docs {
        let id = d.id.clone().unwrap_or_else(|| ids::random_id(20));
        let seq_no = ix.next_seq_no;
        ix.next_seq_no += 1;
        ix.docs.insert(
            id,
            Doc {
                source: d.source.clone(),
                version: 1,
                seq_no,
            },
        );
    }
}

/// Backing indices are named `.ds-<name>-<yyyy.MM.dd>-<generation>` and are hidden.
pub fn add_data_stream(state: &mut State, seed: &SeedDataStream, now: i64) {
    let generations = seed.generations.unwrap_or(1).max(1);
    let date = chrono::DateTime::from_timestamp_millis(now)
        .map(|d| d.format("%Y.%m.%d").to_string())
        .unwrap_or_else(|| "2026.01.01".into());
    let mut backing = Vec::new();
    for g in 1..=generations {
        let name = format!(".ds-{}-{}-{:06}", seed.name, date, g);
        let mut mappings = seed.mappings.clone().unwrap_or_default();
        mappings.insert(
            "_data_stream_timestamp".into(),
            serde_json::json!({"enabled": true}),
        );
        let props = mappings
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(p) = props {
            p.entry("@timestamp")
                .or_insert_with(|| serde_json::json!({"type": "date"}));
        }
        // The stream's `_meta` is its own (copied from its index template's `_meta`), not
        // part of the backing indices' mappings; those carry a `_meta` only if the seed's
        // mappings (the template's `template.mappings`) give one.
        let mut ix = new_index(&name, mappings, true, now);
        ix.data_stream = Some(seed.name.clone());
        if g == generations {
            add_docs(&mut ix, &seed.documents);
        }
        state.catalog.add_index(ix);
        backing.push(name);
    }
    state.catalog.data_streams.insert(
        seed.name.clone(),
        DataStream {
            name: seed.name.clone(),
            meta: seed.meta.clone(),
            hidden: seed.hidden,
            system: false,
            backing,
            generation: generations,
        },
    );
}

/// The state every emulator starts from: reserved users, the security system index, then
/// the seed.
pub fn initial_state(elastic_password: &str, seed: Option<&Seed>) -> io::Result<State> {
    let mut state = State::empty();
    for (name, roles) in crate::users::RESERVED_USERS {
        let pw = (*name == "elastic").then_some(elastic_password);
        state
            .users
            .insert(name.to_string(), User::reserved(name, roles, pw));
    }
    // Present on every secured cluster; it makes hidden/system/restricted handling visible.
    let now = state.now_millis();
    let mut security = new_index(".security-7", Map::new(), true, now);
    security.system = true;
    state.catalog.add_index(security);
    state.catalog.add_alias(
        ".security",
        ".security-7",
        AliasProps {
            is_write_index: None,
            is_hidden: Some(true),
        },
    );
    if let Some(seed) = seed {
        seed.apply(&mut state)?;
    }
    Ok(state)
}
