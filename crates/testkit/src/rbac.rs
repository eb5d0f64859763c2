//! Kubernetes RBAC as kube-apiserver's authorizer evaluates it (`rbac/v1` rules: API
//! groups, resources with `/subresource` and `*`, verbs, resource names), for checking a
//! request log against the Roles and ClusterRoles bound to a service account.
//!
//! A request's attributes come from its path as the API server's request-info resolver
//! reads them: group, resource, subresource, namespace and name; a list or watch with a
//! `metadata.name` field selector is authorized for that name, as since Kubernetes 1.22.

use std::collections::BTreeMap;

use serde_json::Value;

/// What a request asks to do.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Attributes {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for Attributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let res = if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        };
        let group = if self.group.is_empty() { "core" } else { &self.group };
        write!(f, "{} {group} {res}", self.verb)?;
        if !self.namespace.is_empty() {
            write!(f, " in {}", self.namespace)?;
        }
        if !self.name.is_empty() {
            write!(f, " named {}", self.name)?;
        }
        Ok(())
    }
}

/// The attributes of a resource request (`None` for discovery, OpenAPI and `/version`).
pub fn attributes(verb: &str, path_and_query: &str) -> Option<Attributes> {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => (String::new(), rest),
        ["apis", g, _v, rest @ ..] => ((*g).to_string(), rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => ((*ns).to_string(), rest),
        _ => (String::new(), rest),
    };
    let (resource, name, subresource) = match rest {
        [r] => (*r, "", ""),
        [r, n] => (*r, *n, ""),
        [r, n, s, ..] => (*r, *n, *s),
        _ => return None,
    };
    let mut name = name.to_string();
    if name.is_empty() && matches!(verb, "list" | "watch") {
        let selector = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "fieldSelector")
            .map(|(_, v)| decode(v));
        if let Some(sel) = selector
            && let Some(n) = sel.split(',').find_map(|t| t.strip_prefix("metadata.name="))
        {
            name = n.to_string();
        }
    }
    Some(Attributes {
        verb: verb.to_string(),
        group,
        resource: resource.to_string(),
        subresource: subresource.to_string(),
        namespace,
        name,
    })
}

/// Percent-decoding of a query value (`metadata.name%3Dcluster`).
fn decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One rule of a Role or ClusterRole, and where it comes from (`ClusterRole x, rule 3`).
#[derive(Debug, Clone)]
pub struct Rule {
    pub origin: String,
    api_groups: Vec<String>,
    resources: Vec<String>,
    verbs: Vec<String>,
    resource_names: Vec<String>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

impl Rule {
    fn from(origin: String, v: &Value) -> Self {
        Rule {
            origin,
            api_groups: strings(&v["apiGroups"]),
            resources: strings(&v["resources"]),
            verbs: strings(&v["verbs"]),
            resource_names: strings(&v["resourceNames"]),
        }
    }

    /// Whether this rule allows `a` (rbac/v1's `RuleAllows`).
    pub fn allows(&self, a: &Attributes) -> bool {
        let any = |list: &[String], want: &str| list.iter().any(|x| x == "*" || x == want);
        let combined = if a.subresource.is_empty() {
            a.resource.clone()
        } else {
            format!("{}/{}", a.resource, a.subresource)
        };
        let resource = self.resources.iter().any(|r| {
            r == "*"
                || *r == combined
                || (!a.subresource.is_empty() && *r == format!("*/{}", a.subresource))
        });
        any(&self.verbs, &a.verb)
            && any(&self.api_groups, &a.group)
            && resource
            && (self.resource_names.is_empty() || self.resource_names.contains(&a.name))
    }
}

/// The rules bound to one service account: cluster-wide ones (ClusterRoles through
/// ClusterRoleBindings) and per namespace (Roles, or ClusterRoles, through RoleBindings).
#[derive(Debug, Default, Clone)]
pub struct Grants {
    pub cluster: Vec<Rule>,
    pub namespaced: BTreeMap<String, Vec<Rule>>,
}

impl Grants {
    /// The grants of service account `namespace/name` in `objects` (Roles, ClusterRoles and
    /// their bindings, any other kind ignored).
    pub fn for_service_account(objects: &[Value], namespace: &str, name: &str) -> Self {
        let roles = |kind: &str, ns: &str, role: &str| -> Vec<Rule> {
            objects
                .iter()
                .filter(|o| o["kind"] == kind && o["metadata"]["name"] == role)
                .filter(|o| kind == "ClusterRole" || o["metadata"]["namespace"] == ns)
                .flat_map(|o| {
                    let rules = o["rules"].as_array().cloned().unwrap_or_default();
                    rules
                        .into_iter()
                        .enumerate()
                        .map(move |(i, r)| Rule::from(format!("{kind} {role}, rule {}", i + 1), &r))
                })
                .collect()
        };
        let binds = |b: &Value, binding_ns: &str| {
            b["subjects"].as_array().into_iter().flatten().any(|s| {
                s["kind"] == "ServiceAccount"
                    && s["name"] == name
                    && s["namespace"].as_str().unwrap_or(binding_ns) == namespace
            })
        };
        let mut g = Grants::default();
        for b in objects {
            let ns = b["metadata"]["namespace"].as_str().unwrap_or_default();
            let role_kind = b["roleRef"]["kind"].as_str().unwrap_or_default();
            let role = b["roleRef"]["name"].as_str().unwrap_or_default();
            match b["kind"].as_str() {
                Some("ClusterRoleBinding") if binds(b, "") => {
                    g.cluster.extend(roles("ClusterRole", "", role));
                }
                Some("RoleBinding") if binds(b, ns) => {
                    g.namespaced
                        .entry(ns.to_string())
                        .or_default()
                        .extend(roles(role_kind, ns, role));
                }
                _ => {}
            }
        }
        g
    }

    /// The rule that allows `a`, or `None` when RBAC denies it.
    pub fn allowing(&self, a: &Attributes) -> Option<&Rule> {
        let local = self.namespaced.get(&a.namespace).into_iter().flatten();
        self.cluster.iter().chain(local).find(|r| r.allows(a))
    }

    /// Every rule, for listing those no request used.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.cluster.iter().chain(self.namespaced.values().flatten())
    }
}

/// kube-apiserver's answer to a request RBAC denies `user`:
/// `secrets "x" is forbidden: User "u" cannot get resource "secrets" in API group "" in the
/// namespace "ns"`.
pub fn forbidden(user: &str, a: &Attributes) -> crate::apiserver::store::ApiError {
    let qualified =
        if a.group.is_empty() { a.resource.clone() } else { format!("{}.{}", a.resource, a.group) };
    let object = if a.name.is_empty() { qualified } else { format!("{qualified} \"{}\"", a.name) };
    let resource = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace \"{}\"", a.namespace)
    };
    crate::apiserver::store::ApiError::new(
        403,
        "Forbidden",
        format!(
            "{object} is forbidden: User \"{user}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
            a.verb, a.group
        ),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn attributes_from_paths() {
        let a = attributes(
            "patch",
            "/apis/config.openshift.io/v1/clusteroperators/image-registry/status",
        )
        .unwrap();
        assert_eq!(
            (a.group.as_str(), a.resource.as_str(), a.subresource.as_str(), a.name.as_str()),
            ("config.openshift.io", "clusteroperators", "status", "image-registry")
        );
        let a =
            attributes("watch", "/api/v1/namespaces/openshift-image-registry/secrets?watch=true")
                .unwrap();
        assert_eq!(
            (a.namespace.as_str(), a.resource.as_str(), a.name.as_str()),
            ("openshift-image-registry", "secrets", "")
        );
        let a = attributes(
            "list",
            "/api/v1/namespaces?fieldSelector=metadata.name%3Dopenshift-image-registry",
        )
        .unwrap();
        assert_eq!(
            (a.resource.as_str(), a.name.as_str(), a.namespace.as_str()),
            ("namespaces", "openshift-image-registry", "")
        );
        let a = attributes("get", "/api/v1/namespaces/openshift-image-registry").unwrap();
        assert_eq!(
            (a.resource.as_str(), a.name.as_str(), a.namespace.as_str()),
            ("namespaces", "openshift-image-registry", "")
        );
        assert!(attributes("get", "/apis").is_none());
        assert!(attributes("get", "/openapi/v3").is_none());
    }

    fn grants() -> Grants {
        let objects = vec![
            json!({"kind": "ClusterRole", "metadata": {"name": "op"}, "rules": [
                {"apiGroups": ["config.openshift.io"], "resources": ["clusteroperators/status"], "verbs": ["patch"], "resourceNames": ["image-registry"]},
                {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "watch"]},
                {"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["get"]},
            ]}),
            json!({"kind": "ClusterRoleBinding", "metadata": {"name": "op"}, "roleRef": {"kind": "ClusterRole", "name": "op"},
                "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]}),
            json!({"kind": "Role", "metadata": {"name": "op", "namespace": "ns"}, "rules": [
                {"apiGroups": [""], "resources": ["secrets"], "verbs": ["*"]},
            ]}),
            json!({"kind": "RoleBinding", "metadata": {"name": "op", "namespace": "ns"}, "roleRef": {"kind": "Role", "name": "op"},
                "subjects": [{"kind": "ServiceAccount", "name": "sa"}]}),
            // Bound to someone else: grants nothing to sa.
            json!({"kind": "RoleBinding", "metadata": {"name": "x", "namespace": "other"}, "roleRef": {"kind": "Role", "name": "op"},
                "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "elsewhere"}]}),
        ];
        Grants::for_service_account(&objects, "ns", "sa")
    }

    #[test]
    fn rules_allow_what_they_name_and_nothing_else() {
        let g = grants();
        let allowed =
            |verb: &str, path: &str| g.allowing(&attributes(verb, path).unwrap()).is_some();
        assert!(allowed(
            "patch",
            "/apis/config.openshift.io/v1/clusteroperators/image-registry/status"
        ));
        assert!(
            !allowed("patch", "/apis/config.openshift.io/v1/clusteroperators/other/status"),
            "resourceNames"
        );
        assert!(
            !allowed("patch", "/apis/config.openshift.io/v1/clusteroperators/image-registry"),
            "not the subresource"
        );
        assert!(
            !allowed(
                "update",
                "/apis/config.openshift.io/v1/clusteroperators/image-registry/status"
            ),
            "verb"
        );
        assert!(allowed("watch", "/api/v1/nodes?watch=true"));
        assert!(allowed("delete", "/api/v1/namespaces/ns/secrets/s"), "the Role's *");
        assert!(!allowed("get", "/api/v1/namespaces/other/secrets/s"), "a Role is one namespace's");
        assert!(allowed("get", "/apis/apps/v1/namespaces/ns/deployments/d/scale"), "*/scale");
        assert!(
            !allowed("get", "/apis/apps/v1/namespaces/ns/deployments/d"),
            "*/scale is not the resource"
        );
        let rule = g.allowing(&attributes("watch", "/api/v1/nodes?watch=true").unwrap()).unwrap();
        assert_eq!(rule.origin, "ClusterRole op, rule 2");
        assert_eq!(g.rules().count(), 4);
    }
}
