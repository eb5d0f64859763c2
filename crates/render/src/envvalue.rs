//! Env var values as the reference encodes them: every non-secret value is marshalled as
//! a YAML scalar, so bools read `true`/`false`, integers are decimal, and a string that
//! YAML would read as something else (or that needs quoting) is quoted.

use std::fmt;

/// A value a storage driver or the operator puts into the registry's environment.
#[derive(Clone, PartialEq, Eq)]
pub enum EnvValue {
    Str(String),
    Bool(bool),
    Int(i64),
    /// Already YAML (used for structured values such as the CloudFront middleware).
    Yaml(String),
}

impl fmt::Debug for EnvValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl From<&str> for EnvValue {
    fn from(s: &str) -> Self {
        EnvValue::Str(s.to_string())
    }
}

impl From<String> for EnvValue {
    fn from(s: String) -> Self {
        EnvValue::Str(s)
    }
}

impl From<bool> for EnvValue {
    fn from(b: bool) -> Self {
        EnvValue::Bool(b)
    }
}

impl From<i64> for EnvValue {
    fn from(i: i64) -> Self {
        EnvValue::Int(i)
    }
}

impl EnvValue {
    /// The string that goes into `env[].value`.
    pub fn encode(&self) -> String {
        match self {
            EnvValue::Bool(b) => b.to_string(),
            EnvValue::Int(i) => i.to_string(),
            EnvValue::Yaml(y) => y.trim_end_matches('\n').to_string(),
            EnvValue::Str(s) => quote(s),
        }
    }
}

/// Words YAML 1.1 resolves to booleans or null.
const SPECIAL_WORDS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
    "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
];

fn looks_numeric(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    if t.is_empty() {
        return false;
    }
    if t.parse::<f64>().is_ok() && !t.contains(['i', 'I', 'n', 'N']) {
        return true;
    }
    matches!(t, ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN")
        || t.strip_prefix("0x")
            .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
        || t.strip_prefix("0o").is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_digit(8)))
}

fn quote(s: &str) -> String {
    if s.is_empty() || SPECIAL_WORDS.contains(&s) || looks_numeric(s) {
        return format!("\"{s}\"");
    }
    if s.contains('\n') {
        let body: Vec<String> = s.lines().map(|l| format!("  {l}")).collect();
        let chomp = if s.ends_with('\n') { "" } else { "-" };
        return format!("|{chomp}\n{}", body.join("\n"));
    }
    let first = s.chars().next().unwrap_or(' ');
    let needs = s.starts_with(' ')
        || s.ends_with(' ')
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.chars().any(|c| c.is_control());
    if needs {
        if s.chars().any(|c| c.is_control()) {
            return serde_json::to_string(s).unwrap_or_default();
        }
        return format!("'{}'", s.replace('\'', "''"));
    }
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_scalars_like_yaml() {
        let cases: Vec<(EnvValue, &str)> = vec![
            (true.into(), "true"),
            (false.into(), "false"),
            (5242880_i64.into(), "5242880"),
            ("bucket-name".into(), "bucket-name"),
            ("/var/run/secrets/cloud/credentials".into(), "/var/run/secrets/cloud/credentials"),
            ("https://s3.example.com:443".into(), "https://s3.example.com:443"),
            ("".into(), "\"\""),
            ("true".into(), "\"true\""),
            ("yes".into(), "\"yes\""),
            ("123".into(), "\"123\""),
            ("1.5".into(), "\"1.5\""),
            ("a: b".into(), "'a: b'"),
            ("*star".into(), "'*star'"),
            ("it's: x".into(), "'it''s: x'"),
            ("us-east-1".into(), "us-east-1"),
            ("3s".into(), "3s"),
            (EnvValue::Yaml("- name: x\n".into()), "- name: x"),
        ];
        for (v, want) in cases {
            assert_eq!(v.encode(), want, "{v:?}");
        }
    }
}
