//! Tables for people, JSON for scripts (`--output json`).

use serde_json::Value;

use crate::args::Output;

pub fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Rows of `columns` (header, field) from `items`, aligned.
pub fn table(items: &[Value], columns: &[(&str, &str)]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| columns.iter().map(|(_, f)| cell(&i[*f])).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(n, (h, _))| {
            rows.iter()
                .map(|r| r[n].chars().count())
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(columns.iter().map(|(h, _)| h.to_string()).collect())];
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}

pub const REQUEST_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("STATUS", "status"),
    ("INTEGRATION", "integration"),
    ("RESOURCES", "resources"),
    ("PERMISSION", "permission"),
    ("DURATION", "duration"),
    ("ENDS", "ends_at"),
    ("REQUESTER", "requester_email"),
];

/// A request or a list of them, as asked.
pub fn requests(output: Output, items: &[Value]) {
    match output {
        Output::Json => print_json(&Value::Array(items.to_vec())),
        Output::Table => {
            let flat: Vec<Value> = items
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    r["requester_email"] = r["requester"]["email"].clone();
                    r
                })
                .collect();
            println!("{}", table(&flat, REQUEST_COLUMNS));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_table_aligns_its_columns_and_shows_missing_values_as_a_dash() {
        let t = table(
            &[
                json!({"id": "r-1", "status": "pending", "resources": ["a", "b"]}),
                json!({"id": "r-22", "status": "active"}),
            ],
            &[
                ("ID", "id"),
                ("STATUS", "status"),
                ("RESOURCES", "resources"),
            ],
        );
        assert_eq!(
            t,
            "ID    STATUS   RESOURCES\nr-1   pending  a,b\nr-22  active   -"
        );
    }
}
