//! The part of Kubernetes JSONPath that printer columns use: fields (`.status.phase`),
//! indexes (`[0]`), wildcards (`[*]`), and filters comparing a field with a literal
//! (`[?(@.type=="Available")]`, `!=`). Missing keys find nothing, as kube-apiserver's
//! `AllowMissingKeys(true)` has it.

use serde_json::Value;

#[derive(Debug, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    All,
    /// `@.<path> == <literal>` (or `!=`).
    Filter(Vec<String>, bool, Value),
}

/// The first value `path` finds in `v`, if any (a column shows only the first).
pub fn first<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let steps = parse(path)?;
    let mut found = vec![v];
    for step in &steps {
        found = found.into_iter().flat_map(|v| apply(step, v)).collect();
    }
    found.into_iter().next()
}

fn apply<'a>(step: &Step, v: &'a Value) -> Vec<&'a Value> {
    match step {
        Step::Field(f) => v.get(f).into_iter().collect(),
        Step::Index(i) => {
            let Some(a) = v.as_array() else { return Vec::new() };
            let i = if *i < 0 { a.len() as i64 + i } else { *i };
            usize::try_from(i).ok().and_then(|i| a.get(i)).into_iter().collect()
        }
        Step::All => match v {
            Value::Array(a) => a.iter().collect(),
            Value::Object(m) => m.values().collect(),
            _ => Vec::new(),
        },
        Step::Filter(path, equal, literal) => v
            .as_array()
            .into_iter()
            .flatten()
            .filter(|item| {
                let got = path.iter().try_fold(*item, |at, f| at.get(f));
                got.is_some_and(|g| (g == literal) == *equal)
            })
            .collect(),
    }
}

/// The steps of a path, or `None` when it is outside the subset.
fn parse(path: &str) -> Option<Vec<Step>> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut steps = Vec::new();
    let mut rest = path.trim_start_matches('$');
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end > 0 {
                steps.push(Step::Field(r[..end].to_string()));
            }
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            steps.push(bracket(&r[..end])?);
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

fn bracket(inner: &str) -> Option<Step> {
    if inner == "*" {
        return Some(Step::All);
    }
    if let Ok(i) = inner.parse::<i64>() {
        return Some(Step::Index(i));
    }
    if let Some(f) = inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return Some(Step::Field(f.to_string()));
    }
    let expr = inner.strip_prefix("?(")?.strip_suffix(')')?;
    let (lhs, equal, rhs) = if let Some((l, r)) = expr.split_once("!=") {
        (l, false, r)
    } else {
        let (l, r) = expr.split_once("==")?;
        (l, true, r)
    };
    let field = lhs.trim().strip_prefix("@.")?;
    let path = field.split('.').map(str::to_string).collect();
    let rhs = rhs.trim();
    let literal = match rhs.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(s) => Value::String(s.to_string()),
        None => match rhs.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            Some(s) => Value::String(s.to_string()),
            None => serde_json::from_str(rhs).ok()?,
        },
    };
    Some(Step::Filter(path, equal, literal))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_paths_of_printer_columns() {
        let co = json!({"status": {
            "versions": [{"name": "operator", "version": "4.20.0"}],
            "conditions": [{"type": "Available", "status": "True"}, {"type": "Degraded", "status": "False"}],
            "ingress": [{"host": "h", "conditions": [{"type": "Admitted", "status": "True"}]}]}});
        let at = |p: &str| first(&co, p).cloned();
        assert_eq!(at(r#".status.versions[?(@.name=="operator")].version"#), Some(json!("4.20.0")));
        assert_eq!(at(r#".status.conditions[?(@.type=="Degraded")].status"#), Some(json!("False")));
        assert_eq!(
            at(r#".status.conditions[?(@.type!="Available")].type"#),
            Some(json!("Degraded"))
        );
        assert_eq!(at(r#".status.conditions[?(@.type=="Progressing")].status"#), None);
        assert_eq!(at(".status.ingress[0].host"), Some(json!("h")));
        assert_eq!(
            at(r#".status.ingress[0].conditions[?(@.type=="Admitted")].status"#),
            Some(json!("True"))
        );
        assert_eq!(at(".status.conditions[-1].type"), Some(json!("Degraded")));
        assert_eq!(at(".status.conditions[*].type"), Some(json!("Available")));
        assert_eq!(at(".spec.missing.deeper"), None);
        assert_eq!(at("{.status.versions[0].name}"), Some(json!("operator")));
        assert_eq!(at(".status[bogus"), None, "outside the subset finds nothing");
    }
}
