//! Elasticsearch's named index privileges and the actions each one allows.
//!
//! Source: `IndexPrivilege.java` (x-pack core, `org.elasticsearch.xpack.core.security.authz.privilege`)
//! and the "Elasticsearch privileges" reference page (security-privileges.html, "Indices privileges").
//! Each privilege is a set of action-name patterns where `*` matches anything, as ES's automatons do.

use wildmatch::WildMatch;

/// One named index privilege.
pub(crate) struct Named {
    pub name: &'static str,
    patterns: &'static [&'static str],
    /// How many named privileges (itself included) grant a superset of this one. ES sorts the
    /// "this action is granted by the index privileges [...]" list by this count, descending, then
    /// by name (`Privilege.sortByAccessLevel`); hand-computed from the patterns below and checked
    /// against real messages (`[create_doc,create,delete,index,write,all]` for `bulk[s]`,
    /// `[read,all]` for search).
    superset_count: u8,
}

/// `auto_put` mapping is part of `write` (`AutoPutMappingAction.NAME`).
const AUTO_PUT_MAPPING: &str = "indices:admin/mapping/auto_put";

pub(crate) const NAMED: &[Named] = &[
    Named {
        name: "all",
        patterns: &["indices:*"],
        superset_count: 1,
    },
    Named {
        name: "read",
        patterns: &["indices:data/read/*"],
        superset_count: 2,
    },
    Named {
        name: "read_cross_cluster",
        patterns: &[
            "internal:transport/proxy/indices:data/read/*",
            "indices:admin/shards/search_shards",
        ],
        superset_count: 2,
    },
    Named {
        name: "create",
        patterns: &["indices:data/write/index*", "indices:data/write/bulk*"],
        superset_count: 4,
    },
    Named {
        name: "create_doc",
        patterns: &[
            "indices:data/write/index",
            "indices:data/write/index[*",
            "indices:data/write/index:op_type/create",
            "indices:data/write/bulk*",
        ],
        superset_count: 5,
    },
    Named {
        name: "index",
        patterns: &[
            "indices:data/write/index*",
            "indices:data/write/bulk*",
            "indices:data/write/update*",
        ],
        superset_count: 3,
    },
    Named {
        name: "delete",
        patterns: &["indices:data/write/delete*", "indices:data/write/bulk*"],
        superset_count: 3,
    },
    Named {
        name: "write",
        patterns: &["indices:data/write/*", AUTO_PUT_MAPPING],
        superset_count: 2,
    },
    Named {
        name: "monitor",
        patterns: &["indices:monitor/*"],
        superset_count: 3,
    },
    Named {
        name: "manage",
        patterns: &[
            "indices:monitor/*",
            "indices:admin/*",
            "indices:data/read/field_caps*",
            "indices:data/read/xpack/rollup/get/index/caps*",
        ],
        superset_count: 2,
    },
    Named {
        name: "create_index",
        patterns: &[
            "indices:admin/create",
            "indices:admin/auto_create",
            "indices:admin/data_stream/create",
        ],
        superset_count: 3,
    },
    Named {
        name: "delete_index",
        patterns: &["indices:admin/delete", "indices:admin/data_stream/delete"],
        superset_count: 3,
    },
    Named {
        name: "view_index_metadata",
        patterns: &[
            "indices:admin/aliases/get",
            "indices:admin/get",
            "indices:admin/mappings/fields/get*",
            "indices:admin/mappings/get",
            "indices:admin/shards/search_shards",
            "indices:admin/validate/query*",
            "indices:monitor/settings/get",
            "indices:admin/ilm/explain",
            "indices:admin/data_stream/get",
            "indices:admin/resolve/index",
            "indices:data/read/field_caps*",
            "indices:data/read/xpack/rollup/get/index/caps*",
            "indices:monitor/transform/checkpoint*",
        ],
        superset_count: 3,
    },
    Named {
        name: "maintenance",
        patterns: &[
            "indices:admin/refresh*",
            "indices:admin/flush*",
            "indices:admin/synced_flush",
            "indices:admin/forcemerge*",
        ],
        superset_count: 3,
    },
    Named {
        name: "manage_ilm",
        patterns: &["indices:admin/ilm/*"],
        superset_count: 3,
    },
    Named {
        name: "auto_configure",
        patterns: &[AUTO_PUT_MAPPING, "indices:admin/auto_create"],
        superset_count: 3,
    },
    Named {
        name: "none",
        patterns: &[],
        superset_count: 255,
    },
];

/// A compiled privilege: a named one, or a raw action pattern (`indices:data/read/*`), which ES
/// roles also accept.
pub(crate) struct Compiled {
    matchers: Vec<WildMatch>,
}

impl Compiled {
    /// `None` when the name is neither a named privilege nor an `indices:` action pattern.
    pub fn parse(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        if let Some(named) = NAMED.iter().find(|n| n.name == lower) {
            return Some(Self {
                matchers: named.patterns.iter().map(|p| WildMatch::new(p)).collect(),
            });
        }
        // ES accepts action patterns over index actions only (`IndexPrivilege.ACTION_MATCHER`).
        // `?` is not a wildcard in ES action patterns' common use; refuse it rather than guess.
        if lower.starts_with("indices:") && !lower.contains('?') {
            return Some(Self {
                matchers: vec![WildMatch::new(&lower)],
            });
        }
        None
    }

    pub fn allows(&self, action: &str) -> bool {
        self.matchers.iter().any(|m| m.matches(action))
    }
}

/// The named privileges that grant `action`, ordered as ES prints them.
pub(crate) fn granting(action: &str) -> Vec<&'static str> {
    let mut found: Vec<&Named> = NAMED
        .iter()
        .filter(|n| n.patterns.iter().any(|p| WildMatch::new(p).matches(action)))
        .collect();
    found.sort_by(|a, b| {
        b.superset_count
            .cmp(&a.superset_count)
            .then(a.name.cmp(b.name))
    });
    found.into_iter().map(|n| n.name).collect()
}
