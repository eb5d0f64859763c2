//! The resource types the server serves: built-in Kubernetes types and those registered
//! from CRDs, and the discovery documents that describe them.

use serde_json::{Value, json};

/// One served resource type.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    /// Has a `/status` subresource: main writes keep status, status writes keep the rest.
    pub status: bool,
    /// Maintains `metadata.generation` (bumped on changes outside metadata and status).
    pub generation: bool,
    pub short_names: Vec<String>,
    /// `openAPIV3Schema` of a CRD: defaulting, pruning and validation on write.
    pub schema: Option<std::sync::Arc<Value>>,
    /// Has a `/scale` subresource, reading and writing these paths.
    pub scale: Option<super::scale::ScalePaths>,
    /// A CRD's `additionalPrinterColumns` (the Table's columns); `None` for built-in kinds,
    /// which have printers of their own.
    pub printer_columns: Option<std::sync::Arc<Vec<Value>>>,
    /// Discovery categories (`all` for the workloads `kubectl get all` lists).
    pub categories: Vec<String>,
}

impl ResourceType {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// A kind kube-apiserver knows from Go types (not from a CRD).
    pub fn builtin(&self) -> bool {
        self.printer_columns.is_none()
    }

    /// The key the store files objects under: `group/plural`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.group, self.plural)
    }

    /// The resource name used in messages: `plural.group` (`configmaps` for core).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// A CRD's served type (first served version), from the CRD as JSON.
    pub fn from_crd(crd: &Value) -> Result<Self, String> {
        let spec = crd.get("spec").ok_or("CRD has no spec")?;
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let names = spec.get("names").ok_or("CRD has no spec.names")?;
        let plural = s(names, "plural").ok_or("CRD has no spec.names.plural")?;
        let kind = s(names, "kind").ok_or("CRD has no spec.names.kind")?;
        let versions =
            spec.get("versions").and_then(Value::as_array).ok_or("CRD has no versions")?;
        let version = versions
            .iter()
            .find(|v| v.get("storage") == Some(&Value::Bool(true)))
            .or_else(|| versions.first())
            .ok_or("CRD has no versions")?;
        Ok(ResourceType {
            group: s(spec, "group").ok_or("CRD has no spec.group")?,
            version: s(version, "name").ok_or("CRD version has no name")?,
            singular: s(names, "singular").unwrap_or_else(|| kind.to_lowercase()),
            plural,
            kind,
            namespaced: s(spec, "scope").as_deref() == Some("Namespaced"),
            status: version.pointer("/subresources/status").is_some(),
            generation: true,
            short_names: strings(names.get("shortNames")),
            schema: version.pointer("/schema/openAPIV3Schema").cloned().map(std::sync::Arc::new),
            scale: super::scale::ScalePaths::from_crd_version(version),
            printer_columns: Some(std::sync::Arc::new(
                version
                    .get("additionalPrinterColumns")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            )),
            categories: strings(names.get("categories")),
        })
    }
}

/// The strings of a JSON array (none when absent).
fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// The built-in kinds in the `all` category (kube-apiserver 1.34's, less those not served
/// here: replicationcontrollers, horizontalpodautoscalers).
const ALL_CATEGORY: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "services"),
    ("apps", "daemonsets"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("batch", "cronjobs"),
    ("batch", "jobs"),
];

/// A row of [`BUILTINS`]: group, version, plural, kind, namespaced, has a `/status`
/// subresource, maintains `metadata.generation`, short names.
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    bool,
    bool,
    &'static [&'static str],
);

/// The built-in types: core v1, apps, batch, rbac, policy, networking, coordination,
/// events and apiextensions.
const BUILTINS: &[Builtin] = &[
    ("", "v1", "namespaces", "Namespace", false, true, false, &["ns"]),
    ("", "v1", "configmaps", "ConfigMap", true, false, false, &["cm"]),
    ("", "v1", "secrets", "Secret", true, false, false, &[]),
    ("", "v1", "services", "Service", true, true, false, &["svc"]),
    ("", "v1", "serviceaccounts", "ServiceAccount", true, false, false, &["sa"]),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, true, false, &["pvc"]),
    ("", "v1", "pods", "Pod", true, true, false, &["po"]),
    ("", "v1", "nodes", "Node", false, true, false, &["no"]),
    ("", "v1", "events", "Event", true, false, false, &["ev"]),
    ("", "v1", "endpoints", "Endpoints", true, false, false, &["ep"]),
    ("apps", "v1", "deployments", "Deployment", true, true, true, &["deploy"]),
    ("apps", "v1", "daemonsets", "DaemonSet", true, true, true, &["ds"]),
    ("apps", "v1", "replicasets", "ReplicaSet", true, true, true, &["rs"]),
    ("apps", "v1", "statefulsets", "StatefulSet", true, true, true, &["sts"]),
    ("batch", "v1", "jobs", "Job", true, true, true, &[]),
    ("batch", "v1", "cronjobs", "CronJob", true, true, true, &["cj"]),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", true, false, false, &[]),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true, false, false, &[]),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, false, false, &[]),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        false,
        false,
        &[],
    ),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, true, true, &["pdb"]),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true, false, true, &["netpol"]),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", true, true, true, &["ing"]),
    ("networking.k8s.io", "v1", "ingressclasses", "IngressClass", false, false, true, &[]),
    ("coordination.k8s.io", "v1", "leases", "Lease", true, false, false, &[]),
    ("events.k8s.io", "v1", "events", "Event", true, false, false, &["ev"]),
    (
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        true,
        true,
        &["crd", "crds"],
    ),
];

/// The built-in types ([`BUILTINS`]), in that order.
pub fn builtins() -> Vec<ResourceType> {
    BUILTINS
        .iter()
        .map(|&(group, version, plural, kind, namespaced, status, generation, short)| {
            ResourceType {
                group: group.into(),
                version: version.into(),
                plural: plural.into(),
                singular: kind.to_lowercase(),
                kind: kind.into(),
                namespaced,
                status,
                generation,
                short_names: short.iter().map(|s| s.to_string()).collect(),
                schema: None,
                scale: matches!(
                    (group, plural),
                    ("apps", "deployments" | "replicasets" | "statefulsets")
                )
                .then(super::scale::ScalePaths::workload),
                printer_columns: None,
                categories: if ALL_CATEGORY.contains(&(group, plural)) {
                    vec!["all".to_string()]
                } else {
                    Vec::new()
                },
            }
        })
        .collect()
}

/// The verbs every served type supports.
pub const VERBS: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];

/// `/api/v1` or `/apis/<group>/<version>`: the types of one group version.
pub fn resource_list(types: &[&ResourceType], group_version: &str) -> Value {
    let mut resources = Vec::new();
    for t in types {
        resources.push(json!({
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": VERBS,
            "shortNames": t.short_names,
            "categories": t.categories,
        }));
        if t.status {
            resources.push(json!({
                "name": format!("{}/status", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        if t.scale.is_some() {
            resources.push(json!({
                "name": format!("{}/scale", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

/// `/apis`: every non-core group with its versions.
pub fn group_list(types: &[ResourceType]) -> Value {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for t in types.iter().filter(|t| !t.group.is_empty()) {
        match groups.iter_mut().find(|(g, _)| *g == t.group) {
            Some((_, versions)) => {
                if !versions.contains(&t.version) {
                    versions.push(t.version.clone());
                }
            }
            None => groups.push((t.group.clone(), vec![t.version.clone()])),
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(name, versions)| {
            let vs: Vec<Value> = versions
                .iter()
                .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
                .collect();
            json!({"name": name, "versions": vs, "preferredVersion": vs[0]})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/openapi/v3`: where each group version's document is.
pub fn openapi_v3_root(types: &[ResourceType]) -> Value {
    let mut paths = serde_json::Map::new();
    for t in types {
        let gv = if t.group.is_empty() {
            "api/v1".to_string()
        } else {
            format!("apis/{}/{}", t.group, t.version)
        };
        paths.insert(gv.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{gv}")}));
    }
    json!({"paths": paths})
}

/// The name kube-apiserver gives a CRD's schema in OpenAPI: the group reversed, the
/// version, the kind (`io.openshift.operator.imageregistry.v1.Config`).
pub fn openapi_name(t: &ResourceType) -> String {
    let mut group: Vec<&str> = t.group.split('.').collect();
    group.reverse();
    format!("{}.{}.{}", group.join("."), t.version, t.kind)
}

/// `/openapi/v3/<gv>`: the paths, and the schemas of its kinds, built-in and CRDs' (with
/// their group-version-kind, which `kubectl explain` looks them up by). Each PATCH
/// declares the `fieldValidation` parameter, so kubectl leaves validation to the server.
pub fn openapi_v3_group_version(types: &[&ResourceType]) -> Value {
    let mut paths = serde_json::Map::new();
    let group_version = types.first().map(|t| t.api_version()).unwrap_or_default();
    let mut schemas = super::openapi::builtin_schemas(&group_version, types);
    for t in types {
        if let Some(schema) = &t.schema {
            let mut schema = (**schema).clone();
            schema["x-kubernetes-group-version-kind"] =
                json!([{"group": t.group, "version": t.version, "kind": t.kind}]);
            schemas.insert(openapi_name(t), schema);
        }
        let prefix = if t.group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{}/{}", t.group, t.version)
        };
        let path = if t.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
        } else {
            format!("{prefix}/{}/{{name}}", t.plural)
        };
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        let param = json!({"name": "fieldValidation", "in": "query", "schema": {"type": "string"}});
        paths.insert(path, json!({
            "get": {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "get"},
            "patch": {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "patch", "parameters": [param]},
            "put": {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "put", "parameters": [param]},
        }));
    }
    json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.33.0"}, "paths": paths, "components": {"schemas": schemas}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crd_types() {
        let crd = json!({"metadata": {"name": "things.example.com"}, "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "things", "kind": "Thing", "shortNames": ["th"]},
            "versions": [{"name": "v1beta1", "served": true, "storage": false},
                         {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                          "schema": {"openAPIV3Schema": {"type": "object"}}}]}});
        let t = ResourceType::from_crd(&crd).unwrap();
        assert_eq!(
            (t.group.as_str(), t.version.as_str(), t.plural.as_str(), t.singular.as_str()),
            ("example.com", "v1", "things", "thing")
        );
        assert!(t.namespaced && t.status && t.generation && t.schema.is_some());
        assert_eq!(t.short_names, ["th"]);
        assert!(ResourceType::from_crd(&json!({"spec": {}})).is_err());
        let list = group_list(std::slice::from_ref(&t));
        assert_eq!(list["groups"][0]["preferredVersion"]["groupVersion"], "example.com/v1");
        let rl = resource_list(&[&t], "example.com/v1");
        assert_eq!(rl["resources"][1]["name"], "things/status");
    }
}
