//! Pod Security admission as kube-apiserver 1.34 runs it (k8s.io/pod-security-admission):
//! the namespace's `pod-security.kubernetes.io/enforce` level refuses Pods that break it
//! (403, `violates PodSecurity "restricted:latest": ...`), and its `warn` level (the
//! enforce level when unset) answers workloads whose Pod template would with a warning.
//! With no label the level is `privileged`: nothing is checked, as upstream's default.
//!
//! The checks, their order (baseline IDs sorted, then restricted ones) and their messages
//! are upstream's; the AppArmor annotation check reads the fields only.

use serde_json::Value;

const PREFIX: &str = "pod-security.kubernetes.io/";

/// A Pod Security level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

/// The level and version a namespace's labels give one mode (`enforce`, `warn`), as
/// `PolicyToEvaluate`: an invalid enforce level is `restricted` (fails closed), an invalid
/// warn level `privileged`; warn follows enforce when unset.
pub fn policy(ns_labels: Option<&Value>, mode: &str) -> (Level, String) {
    let label =
        |k: &str| ns_labels.and_then(|l| l.get(format!("{PREFIX}{k}"))).and_then(Value::as_str);
    let parse = |v: &str, invalid: Level| match v {
        "privileged" => (Level::Privileged, true),
        "baseline" => (Level::Baseline, true),
        "restricted" => (Level::Restricted, true),
        _ => (invalid, false),
    };
    let version = |k: &str| {
        label(k).filter(|v| *v == "latest" || valid_version(v)).unwrap_or("latest").to_string()
    };
    let enforce = label("enforce").map(|v| parse(v, Level::Restricted));
    if mode == "enforce" {
        return (enforce.map_or(Level::Privileged, |e| e.0), version("enforce-version"));
    }
    match label("warn") {
        Some(v) => (parse(v, Level::Privileged).0, version("warn-version")),
        None => match enforce {
            Some((level, true)) => {
                let v = label("warn-version").map(|_| version("warn-version"));
                (level, v.unwrap_or_else(|| version("enforce-version")))
            }
            _ => (Level::Privileged, version("warn-version")),
        },
    }
}

fn valid_version(v: &str) -> bool {
    v.strip_prefix("v1.").is_some_and(|n| {
        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n == "0" || !n.starts_with('0'))
    })
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::Privileged => "privileged",
        Level::Baseline => "baseline",
        Level::Restricted => "restricted",
    }
}

/// `"a", "b"`.
fn join_quote<S: AsRef<str>>(items: &[S]) -> String {
    items.iter().map(|s| format!("\"{}\"", s.as_ref())).collect::<Vec<_>>().join(", ")
}

fn plural<'a>(one: &'a str, many: &'a str, n: usize) -> &'a str {
    if n == 1 { one } else { many }
}

/// `container "a"` / `containers "a", "b"`.
fn containers_phrase(names: &[String]) -> String {
    format!("{} {}", plural("container", "containers", names.len()), join_quote(names))
}

/// The init, regular and ephemeral containers, in upstream's visiting order.
fn containers(spec: &Value) -> Vec<&Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|k| spec.get(*k).and_then(Value::as_array).into_iter().flatten())
        .collect()
}

fn name(c: &Value) -> String {
    c.get("name").and_then(Value::as_str).unwrap_or("").to_string()
}

fn sc<'a>(c: &'a Value, k: &str) -> Option<&'a Value> {
    c.get("securityContext").and_then(|s| s.get(k)).filter(|v| !v.is_null())
}

fn sorted_unique(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

type Check = fn(&Value) -> Option<(String, String)>;

/// The checks of `level`, in upstream's order (baseline IDs sorted, then restricted IDs
/// sorted, those restricted replaces left out).
fn checks(level: Level) -> Vec<Check> {
    let baseline: [Check; 9] = [
        app_armor,
        host_namespaces,
        host_ports,
        host_probes,
        privileged,
        proc_mount,
        se_linux,
        sysctls,
        host_process,
    ];
    match level {
        Level::Privileged => Vec::new(),
        Level::Baseline => {
            let mut v: Vec<Check> =
                vec![app_armor, capabilities_baseline, host_namespaces, host_path_volumes];
            v.extend([host_ports, host_probes, privileged, proc_mount, se_linux, seccomp_baseline]);
            v.extend([sysctls as Check, host_process]);
            v
        }
        Level::Restricted => {
            let mut v = baseline.to_vec();
            v.extend([
                allow_privilege_escalation as Check,
                capabilities_restricted,
                restricted_volumes,
                run_as_non_root,
                run_as_user,
                seccomp_restricted,
            ]);
            v
        }
    }
}

/// `REASON (DETAIL), ...` for a Pod spec at `level`; `None` when it passes.
pub fn violations(level: Level, spec: &Value) -> Option<String> {
    let found: Vec<String> = checks(level)
        .into_iter()
        .filter_map(|c| c(spec))
        .map(
            |(reason, detail)| {
                if detail.is_empty() { reason } else { format!("{reason} ({detail})") }
            },
        )
        .collect();
    (!found.is_empty()).then(|| found.join(", "))
}

/// The 403 message for a Pod the namespace's enforce level refuses, or `None`.
pub fn enforce(ns_labels: Option<&Value>, pod_name: &str, spec: &Value) -> Option<String> {
    let (level, version) = policy(ns_labels, "enforce");
    let v = violations(level, spec)?;
    Some(format!(
        "pods \"{pod_name}\" is forbidden: violates PodSecurity \"{}:{version}\": {v}",
        level_name(level)
    ))
}

/// The warning for a workload whose Pod template the namespace's warn level refuses.
pub fn warn(ns_labels: Option<&Value>, template_spec: &Value) -> Option<String> {
    let (level, version) = policy(ns_labels, "warn");
    let v = violations(level, template_spec)?;
    Some(format!("would violate PodSecurity \"{}:{version}\": {v}", level_name(level)))
}

/// Whether a Pod update is one upstream checks: the number of (init) containers or an
/// image changed, or an ephemeral container was added or changed its image.
pub fn significant_update(new: &Value, old: &Value) -> bool {
    let list = |v: &Value, k: &str| {
        v.pointer(&format!("/spec/{k}")).and_then(Value::as_array).cloned().unwrap_or_default()
    };
    let image = |c: &Value| c.get("image").cloned();
    for k in ["containers", "initContainers"] {
        let (n, o) = (list(new, k), list(old, k));
        if n.len() != o.len() || n.iter().zip(&o).any(|(a, b)| image(a) != image(b)) {
            return true;
        }
    }
    let old_ephemeral = list(old, "ephemeralContainers");
    list(new, "ephemeralContainers").iter().any(|c| {
        old_ephemeral.iter().find(|o| name(o) == name(c)).is_none_or(|o| image(o) != image(c))
    })
}

fn app_armor(spec: &Value) -> Option<(String, String)> {
    let bad = |v: Option<&Value>| {
        v.and_then(|p| p.get("type"))
            .and_then(Value::as_str)
            .filter(|t| !matches!(*t, "RuntimeDefault" | "Localhost"))
            .map(str::to_string)
    };
    let mut values = Vec::new();
    let mut setters = Vec::new();
    if let Some(t) = bad(spec.pointer("/securityContext/appArmorProfile")) {
        values.push(t);
        setters.push("pod".to_string());
    }
    let mut names = Vec::new();
    for c in containers(spec) {
        if let Some(t) = bad(sc(c, "appArmorProfile")) {
            values.push(t);
            names.push(name(c));
        }
    }
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
    }
    let values = sorted_unique(values);
    (!values.is_empty()).then(|| {
        (
            plural("forbidden AppArmor profile", "forbidden AppArmor profiles", values.len())
                .to_string(),
            format!(
                "{} must not set AppArmor profile type to {}",
                setters.join(" and "),
                join_quote(&values)
            ),
        )
    })
}

fn host_namespaces(spec: &Value) -> Option<(String, String)> {
    let set: Vec<String> = ["hostNetwork", "hostPID", "hostIPC"]
        .iter()
        .filter(|k| spec.get(**k) == Some(&Value::Bool(true)))
        .map(|k| format!("{k}=true"))
        .collect();
    (!set.is_empty()).then(|| ("host namespaces".to_string(), set.join(", ")))
}

fn host_ports(spec: &Value) -> Option<(String, String)> {
    let mut names = Vec::new();
    let mut ports = Vec::new();
    for c in containers(spec) {
        let used: Vec<String> = c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("hostPort").and_then(Value::as_i64).filter(|n| *n != 0))
            .map(|n| n.to_string())
            .collect();
        if !used.is_empty() {
            names.push(name(c));
            ports.extend(used);
        }
    }
    let ports = sorted_unique(ports);
    (!names.is_empty()).then(|| {
        (
            "hostPort".to_string(),
            format!(
                "{} {} {} {}",
                containers_phrase(&names),
                plural("uses", "use", names.len()),
                plural("hostPort", "hostPorts", ports.len()),
                ports.join(", ")
            ),
        )
    })
}

fn host_probes(spec: &Value) -> Option<(String, String)> {
    let mut names = Vec::new();
    let mut hosts = Vec::new();
    for c in containers(spec) {
        let handlers = ["livenessProbe", "readinessProbe", "startupProbe"]
            .iter()
            .filter_map(|k| c.get(*k))
            .chain(
                ["postStart", "preStop"]
                    .iter()
                    .filter_map(|k| c.get("lifecycle").and_then(|l| l.get(*k))),
            );
        let found: Vec<String> = handlers
            .flat_map(|h| {
                ["httpGet", "tcpSocket"]
                    .map(|k| h.get(k).and_then(|a| a.get("host")).and_then(Value::as_str))
            })
            .flatten()
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect();
        if !found.is_empty() {
            names.push(name(c));
            hosts.extend(found);
        }
    }
    let (names, hosts) = (sorted_unique(names), sorted_unique(hosts));
    (!names.is_empty()).then(|| {
        (
            "probe or lifecycle host".to_string(),
            format!(
                "{} {} {} {}",
                containers_phrase(&names),
                plural("uses", "use", names.len()),
                plural("probe or lifecycle host", "probe or lifecycle hosts", hosts.len()),
                join_quote(&hosts)
            ),
        )
    })
}

/// The names of the containers for which `bad` holds.
fn bad_containers(spec: &Value, bad: impl Fn(&Value) -> bool) -> Vec<String> {
    containers(spec).into_iter().filter(|c| bad(c)).map(name).collect()
}

fn privileged(spec: &Value) -> Option<(String, String)> {
    let names = bad_containers(spec, |c| sc(c, "privileged") == Some(&Value::Bool(true)));
    (!names.is_empty()).then(|| {
        (
            "privileged".to_string(),
            format!("{} must not set securityContext.privileged=true", containers_phrase(&names)),
        )
    })
}

fn proc_mount(spec: &Value) -> Option<(String, String)> {
    let bad = |c: &Value| {
        sc(c, "procMount").and_then(Value::as_str).filter(|m| *m != "Default").map(str::to_string)
    };
    let names = bad_containers(spec, |c| bad(c).is_some());
    let types = sorted_unique(containers(spec).into_iter().filter_map(bad).collect());
    (!names.is_empty()).then(|| {
        (
            "procMount".to_string(),
            format!(
                "{} must not set securityContext.procMount to {}",
                containers_phrase(&names),
                join_quote(&types)
            ),
        )
    })
}

fn se_linux(spec: &Value) -> Option<(String, String)> {
    const TYPES: &[&str] =
        &["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];
    let (mut types, mut user, mut role) = (Vec::new(), false, false);
    let mut check = |o: Option<&Value>| {
        let Some(o) = o else { return false };
        let mut bad = false;
        if let Some(t) = o.get("type").and_then(Value::as_str).filter(|t| !TYPES.contains(t)) {
            types.push(t.to_string());
            bad = true;
        }
        for (k, flag) in [("user", &mut user), ("role", &mut role)] {
            if o.get(k).and_then(Value::as_str).is_some_and(|v| !v.is_empty()) {
                *flag = true;
                bad = true;
            }
        }
        bad
    };
    let mut setters = Vec::new();
    if check(spec.pointer("/securityContext/seLinuxOptions")) {
        setters.push("pod".to_string());
    }
    let names: Vec<String> =
        containers(spec).into_iter().filter(|c| check(sc(c, "seLinuxOptions"))).map(name).collect();
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
    }
    if setters.is_empty() {
        return None;
    }
    let types = sorted_unique(types);
    let mut data = Vec::new();
    if !types.is_empty() {
        data.push(format!("{} {}", plural("type", "types", types.len()), join_quote(&types)));
    }
    if user {
        data.push("user may not be set".to_string());
    }
    if role {
        data.push("role may not be set".to_string());
    }
    Some((
        "seLinuxOptions".to_string(),
        format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters.join(" and "),
            data.join("; ")
        ),
    ))
}

fn sysctls(spec: &Value) -> Option<(String, String)> {
    const SAFE: &[&str] = &[
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
    ];
    let bad: Vec<&str> = spec
        .pointer("/securityContext/sysctls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("name").and_then(Value::as_str))
        .filter(|n| !SAFE.contains(n))
        .collect();
    (!bad.is_empty()).then(|| ("forbidden sysctls".to_string(), bad.join(", ")))
}

fn host_process(spec: &Value) -> Option<(String, String)> {
    let on = |o: Option<&Value>| o.and_then(|w| w.get("hostProcess")) == Some(&Value::Bool(true));
    let mut setters = Vec::new();
    if on(spec.pointer("/securityContext/windowsOptions")) {
        setters.push("pod".to_string());
    }
    let names = bad_containers(spec, |c| on(sc(c, "windowsOptions")));
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
    }
    (!setters.is_empty()).then(|| {
        (
            "hostProcess".to_string(),
            format!(
                "{} must not set securityContext.windowsOptions.hostProcess=true",
                setters.join(" and ")
            ),
        )
    })
}

fn windows(spec: &Value) -> bool {
    spec.pointer("/os/name").and_then(Value::as_str) == Some("windows")
}

fn allow_privilege_escalation(spec: &Value) -> Option<(String, String)> {
    if windows(spec) {
        return None;
    }
    let names =
        bad_containers(spec, |c| sc(c, "allowPrivilegeEscalation") != Some(&Value::Bool(false)));
    (!names.is_empty()).then(|| {
        (
            "allowPrivilegeEscalation != false".to_string(),
            format!(
                "{} must set securityContext.allowPrivilegeEscalation=false",
                containers_phrase(&names)
            ),
        )
    })
}

fn added(c: &Value) -> Vec<String> {
    sc(c, "capabilities")
        .and_then(|k| k.get("add"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn capabilities_baseline(spec: &Value) -> Option<(String, String)> {
    const DEFAULT: &[&str] = &[
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    ];
    let forbidden = |c: &Value| {
        added(c).into_iter().filter(|a| !DEFAULT.contains(&a.as_str())).collect::<Vec<_>>()
    };
    let names = bad_containers(spec, |c| !forbidden(c).is_empty());
    let caps = sorted_unique(containers(spec).into_iter().flat_map(forbidden).collect());
    (!names.is_empty()).then(|| {
        (
            "non-default capabilities".to_string(),
            format!(
                "{} must not include {} in securityContext.capabilities.add",
                containers_phrase(&names),
                join_quote(&caps)
            ),
        )
    })
}

fn capabilities_restricted(spec: &Value) -> Option<(String, String)> {
    if windows(spec) {
        return None;
    }
    let drops_all = |c: &Value| {
        sc(c, "capabilities")
            .and_then(|k| k.get("drop"))
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|x| x == "ALL"))
    };
    let forbidden =
        |c: &Value| added(c).into_iter().filter(|a| a != "NET_BIND_SERVICE").collect::<Vec<_>>();
    let missing = bad_containers(spec, |c| !drops_all(c));
    let adding = bad_containers(spec, |c| !forbidden(c).is_empty());
    let mut details = Vec::new();
    if !missing.is_empty() {
        details.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            containers_phrase(&missing)
        ));
    }
    if !adding.is_empty() {
        let caps = sorted_unique(containers(spec).into_iter().flat_map(forbidden).collect());
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding),
            join_quote(&caps)
        ));
    }
    (!details.is_empty()).then(|| ("unrestricted capabilities".to_string(), details.join("; ")))
}

fn volumes(spec: &Value) -> impl Iterator<Item = (String, &'static str)> + '_ {
    spec.get("volumes").and_then(Value::as_array).into_iter().flatten().map(|v| {
        let source = super::pod::VOLUME_SOURCES
            .iter()
            .copied()
            .find(|k| v.get(*k).is_some_and(|s| !s.is_null()));
        (name(v), source.unwrap_or("unknown"))
    })
}

fn host_path_volumes(spec: &Value) -> Option<(String, String)> {
    let names: Vec<String> =
        volumes(spec).filter(|(_, s)| *s == "hostPath").map(|(n, _)| n).collect();
    (!names.is_empty()).then(|| {
        (
            "hostPath volumes".to_string(),
            format!("{} {}", plural("volume", "volumes", names.len()), join_quote(&names)),
        )
    })
}

fn restricted_volumes(spec: &Value) -> Option<(String, String)> {
    const ALLOWED: &[&str] = &[
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ];
    let bad: Vec<(String, &str)> = volumes(spec).filter(|(_, s)| !ALLOWED.contains(s)).collect();
    let names: Vec<String> = bad.iter().map(|(n, _)| n.clone()).collect();
    let types = sorted_unique(bad.iter().map(|(_, s)| s.to_string()).collect());
    (!bad.is_empty()).then(|| {
        (
            "restricted volume types".to_string(),
            format!(
                "{} {} {} {} {}",
                plural("volume", "volumes", names.len()),
                join_quote(&names),
                plural("uses", "use", names.len()),
                plural("restricted volume type", "restricted volume types", types.len()),
                join_quote(&types)
            ),
        )
    })
}

fn run_as_non_root(spec: &Value) -> Option<(String, String)> {
    let pod = spec.pointer("/securityContext/runAsNonRoot").and_then(Value::as_bool);
    let mut setters = Vec::new();
    if pod == Some(false) {
        setters.push("pod".to_string());
    }
    let explicit = bad_containers(spec, |c| sc(c, "runAsNonRoot") == Some(&Value::Bool(false)));
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    let reason = "runAsNonRoot != true".to_string();
    if !setters.is_empty() {
        return Some((
            reason,
            format!("{} must not set securityContext.runAsNonRoot=false", setters.join(" and ")),
        ));
    }
    let implicit = bad_containers(spec, |c| sc(c, "runAsNonRoot").is_none() && pod != Some(true));
    (!implicit.is_empty()).then(|| {
        (
            reason,
            format!(
                "pod or {} must set securityContext.runAsNonRoot=true",
                containers_phrase(&implicit)
            ),
        )
    })
}

fn run_as_user(spec: &Value) -> Option<(String, String)> {
    let mut setters = Vec::new();
    if spec.pointer("/securityContext/runAsUser").and_then(Value::as_i64) == Some(0) {
        setters.push("pod".to_string());
    }
    let names = bad_containers(spec, |c| sc(c, "runAsUser").and_then(Value::as_i64) == Some(0));
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
    }
    (!setters.is_empty()).then(|| {
        ("runAsUser=0".to_string(), format!("{} must not set runAsUser=0", setters.join(" and ")))
    })
}

fn seccomp_type(v: Option<&Value>) -> Option<&str> {
    v.and_then(|p| p.get("type")).and_then(Value::as_str)
}

fn seccomp_ok(t: &str) -> bool {
    matches!(t, "RuntimeDefault" | "Localhost")
}

/// The explicitly bad setters of a seccomp profile and their values.
fn seccomp_explicit(spec: &Value) -> (Vec<String>, Vec<String>) {
    let mut setters = Vec::new();
    let mut values = Vec::new();
    if let Some(t) =
        seccomp_type(spec.pointer("/securityContext/seccompProfile")).filter(|t| !seccomp_ok(t))
    {
        setters.push("pod".to_string());
        values.push(t.to_string());
    }
    let mut names = Vec::new();
    for c in containers(spec) {
        if let Some(t) = seccomp_type(sc(c, "seccompProfile")).filter(|t| !seccomp_ok(t)) {
            names.push(name(c));
            values.push(t.to_string());
        }
    }
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
    }
    (setters, sorted_unique(values))
}

fn seccomp_baseline(spec: &Value) -> Option<(String, String)> {
    let (setters, values) = seccomp_explicit(spec);
    (!setters.is_empty()).then(|| {
        (
            "seccompProfile".to_string(),
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters.join(" and "),
                join_quote(&values)
            ),
        )
    })
}

fn seccomp_restricted(spec: &Value) -> Option<(String, String)> {
    if windows(spec) {
        return None;
    }
    if let Some(found) = seccomp_baseline(spec) {
        return Some(found);
    }
    let pod_ok =
        seccomp_type(spec.pointer("/securityContext/seccompProfile")).is_some_and(seccomp_ok);
    let implicit =
        bad_containers(spec, |c| seccomp_type(sc(c, "seccompProfile")).is_none() && !pod_ok);
    (!implicit.is_empty()).then(|| {
        (
            "seccompProfile".to_string(),
            format!(
                "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                containers_phrase(&implicit)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn restricted() -> Value {
        json!({"pod-security.kubernetes.io/enforce": "restricted"})
    }

    #[test]
    fn a_bare_pod_breaks_restricted_as_upstream_says() {
        let spec = json!({"containers": [{"name": "nginx", "image": "nginx"}]});
        assert_eq!(
            enforce(Some(&restricted()), "nginx", &spec).unwrap(),
            "pods \"nginx\" is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false (container \"nginx\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"nginx\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"nginx\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"nginx\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
        );
        assert_eq!(enforce(None, "nginx", &spec), None, "no label: privileged");
        let baseline = json!({"pod-security.kubernetes.io/enforce": "baseline"});
        assert_eq!(enforce(Some(&baseline), "nginx", &spec), None);
    }

    #[test]
    fn a_restricted_pod_passes_and_each_breach_is_named_in_order() {
        let good = json!({
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}],
            "volumes": [{"name": "v", "emptyDir": {}}, {"name": "s", "secret": {"secretName": "x"}}]
        });
        assert_eq!(violations(Level::Restricted, &good), None);
        let mut bad = good.clone();
        bad["hostNetwork"] = json!(true);
        bad["containers"][0]["securityContext"]["privileged"] = json!(true);
        bad["containers"][0]["ports"] = json!([{"containerPort": 80, "hostPort": 80}]);
        bad["volumes"] = json!([{"name": "h", "hostPath": {"path": "/"}}]);
        bad["securityContext"]["runAsUser"] = json!(0);
        assert_eq!(
            violations(Level::Restricted, &bad).unwrap(),
            "host namespaces (hostNetwork=true), hostPort (container \"c\" uses hostPort 80), privileged (container \"c\" must not set securityContext.privileged=true), restricted volume types (volume \"h\" uses restricted volume type \"hostPath\"), runAsUser=0 (pod must not set runAsUser=0)"
        );
        assert_eq!(
            violations(Level::Baseline, &bad).unwrap(),
            "host namespaces (hostNetwork=true), hostPath volumes (volume \"h\"), hostPort (container \"c\" uses hostPort 80), privileged (container \"c\" must not set securityContext.privileged=true)"
        );
    }

    #[test]
    fn explicit_settings_win_over_implicit_ones() {
        let spec = json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}},
            "containers": [{"name": "a", "securityContext": {"runAsNonRoot": false}}, {"name": "b"}]});
        let v = violations(Level::Restricted, &spec).unwrap();
        assert!(v.contains("runAsNonRoot != true (container \"a\" must not set securityContext.runAsNonRoot=false)"), "{v}");
        assert!(v.contains("seccompProfile (pod must not set securityContext.seccompProfile.type to \"Unconfined\")"), "{v}");
        assert!(
            v.contains(
                "containers \"a\", \"b\" must set securityContext.allowPrivilegeEscalation=false"
            ),
            "{v}"
        );
    }

    #[test]
    fn labels_give_the_levels_as_upstream_parses_them() {
        let ns = json!({"pod-security.kubernetes.io/enforce": "bogus"});
        assert_eq!(policy(Some(&ns), "enforce").0, Level::Restricted, "fails closed");
        assert_eq!(policy(Some(&ns), "warn").0, Level::Privileged);
        let ns = json!({"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/enforce-version": "v1.30"});
        assert_eq!(
            policy(Some(&ns), "warn"),
            (Level::Baseline, "v1.30".to_string()),
            "warn follows enforce"
        );
        let ns = json!({"pod-security.kubernetes.io/warn": "restricted"});
        assert_eq!(policy(Some(&ns), "enforce").0, Level::Privileged);
        let spec = json!({"containers": [{"name": "c"}]});
        assert!(warn(Some(&ns), &spec).unwrap().starts_with(
            "would violate PodSecurity \"restricted:latest\": allowPrivilegeEscalation"
        ));
        assert!(!valid_version("v1.034") && valid_version("v1.34"));
    }

    #[test]
    fn only_significant_pod_updates_are_checked() {
        let old = json!({"spec": {"containers": [{"name": "c", "image": "a"}]}});
        let mut labels = old.clone();
        labels["metadata"] = json!({"labels": {"x": "y"}});
        assert!(!significant_update(&labels, &old));
        let mut image = old.clone();
        image["spec"]["containers"][0]["image"] = json!("b");
        assert!(significant_update(&image, &old));
        let mut ephemeral = old.clone();
        ephemeral["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": "busybox"}]);
        assert!(significant_update(&ephemeral, &old));
    }
}
