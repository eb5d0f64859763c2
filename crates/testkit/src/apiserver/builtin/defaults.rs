//! The defaults kube-apiserver fills into built-in objects on create and update (the
//! `SetDefaults_*` functions of k8s.io/kubernetes/pkg/apis/*/v1, and the registry
//! strategies' `PrepareForCreate` where they add fields), checked against the answers of
//! a real 1.34 server in `../shared/apiserver-conformance`.

use serde_json::{Map, Value, json};

/// Sets a default where the field is unset: absent, null, or (a Go string decodes so) "".
fn or_insert(m: &mut Map<String, Value>, key: &str, v: Value) {
    if m.get(key).is_none_or(|x| x.is_null() || x.as_str() == Some("")) {
        m.insert(key.to_string(), v);
    }
}

fn map_at<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    v.get_mut(key).and_then(Value::as_object_mut)
}

fn each<'a>(v: &'a mut Value, key: &str) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    v.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// Fills in the defaults of the object of type `key` (`group/plural`). `create` tells
/// whether the object is new (status defaults are only set then).
pub fn apply(key: &str, obj: &mut Value, create: bool) {
    match key {
        "apps/deployments" => deployment(obj),
        "apps/daemonsets" => daemonset(obj),
        "apps/replicasets" => {
            if let Some(spec) = map_at(obj, "spec") {
                or_insert(spec, "replicas", json!(1));
            }
            template(obj.get_mut("spec"));
        }
        "apps/statefulsets" => template(obj.get_mut("spec")),
        "batch/cronjobs" => cronjob(obj),
        "batch/jobs" => {
            if let Some(spec) = obj.get_mut("spec") {
                job_spec(spec);
            }
        }
        "/pods" => {
            if let Some(spec) = obj.get_mut("spec") {
                pod_spec(spec);
                if let Some(s) = spec.as_object_mut() {
                    or_insert(s, "enableServiceLinks", json!(true));
                }
            }
        }
        "/services" => service(obj),
        "/secrets" => {
            if let Some(m) = obj.as_object_mut() {
                or_insert(m, "type", json!("Opaque"));
            }
        }
        "/persistentvolumeclaims" => {
            if let Some(spec) = map_at(obj, "spec") {
                or_insert(spec, "volumeMode", json!("Filesystem"));
            }
            if create {
                add_finalizer(obj, "kubernetes.io/pvc-protection");
            }
        }
        "/namespaces" => {
            let name = obj.pointer("/metadata/name").cloned().unwrap_or(Value::Null);
            if let Some(m) = map_at(obj, "metadata") {
                let labels = m.entry("labels").or_insert_with(|| json!({}));
                if let Some(l) = labels.as_object_mut() {
                    l.insert("kubernetes.io/metadata.name".into(), name);
                }
            }
            if let Some(m) = obj.as_object_mut() {
                let spec = m.entry("spec").or_insert_with(|| json!({}));
                if let Some(s) = spec.as_object_mut() {
                    or_insert(s, "finalizers", json!(["kubernetes"]));
                }
            }
        }
        "networking.k8s.io/networkpolicies" => network_policy(obj),
        "networking.k8s.io/ingressclasses" => super::networking::ingress_class_defaults(obj),
        "rbac.authorization.k8s.io/rolebindings"
        | "rbac.authorization.k8s.io/clusterrolebindings" => {
            for s in each(obj, "subjects") {
                let kind = s.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
                match kind.as_str() {
                    "User" | "Group" => {
                        or_insert(s, "apiGroup", json!("rbac.authorization.k8s.io"))
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    if create {
        status(key, obj);
    }
}

/// The status a new object starts with, before any controller writes one.
fn status(key: &str, obj: &mut Value) {
    let s = match key {
        "apps/deployments" | "batch/cronjobs" | "batch/jobs" | "apps/replicasets" => json!({}),
        "apps/daemonsets" => json!({"currentNumberScheduled": 0, "desiredNumberScheduled": 0,
            "numberMisscheduled": 0, "numberReady": 0}),
        "policy/poddisruptionbudgets" => json!({"currentHealthy": 0, "desiredHealthy": 0,
            "disruptionsAllowed": 0, "expectedPods": 0}),
        "/services" => json!({"loadBalancer": {}}),
        "/persistentvolumeclaims" => json!({"phase": "Pending"}),
        "/pods" => json!({"phase": "Pending", "qosClass": "BestEffort"}),
        // The namespace strategy sets it whatever the request says.
        "/namespaces" => {
            if let Some(m) = obj.as_object_mut() {
                m.insert("status".into(), json!({"phase": "Active"}));
            }
            return;
        }
        _ => return,
    };
    if let Some(m) = obj.as_object_mut() {
        m.entry("status").or_insert(s);
    }
}

fn add_finalizer(obj: &mut Value, f: &str) {
    if let Some(m) = map_at(obj, "metadata") {
        let list = m.entry("finalizers").or_insert_with(|| json!([]));
        if let Some(a) = list.as_array_mut()
            && !a.iter().any(|x| x == f)
        {
            a.push(json!(f));
        }
    }
}

fn deployment(obj: &mut Value) {
    let Some(spec) = map_at(obj, "spec") else { return };
    or_insert(spec, "replicas", json!(1));
    let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
    if let Some(st) = strategy.as_object_mut() {
        or_insert(st, "type", json!("RollingUpdate"));
        if st.get("type") == Some(&json!("RollingUpdate")) {
            let ru = st.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Some(ru) = ru.as_object_mut() {
                or_insert(ru, "maxUnavailable", json!("25%"));
                or_insert(ru, "maxSurge", json!("25%"));
            }
        }
    }
    or_insert(spec, "revisionHistoryLimit", json!(10));
    or_insert(spec, "progressDeadlineSeconds", json!(600));
    template(obj.get_mut("spec"));
}

fn daemonset(obj: &mut Value) {
    let Some(spec) = map_at(obj, "spec") else { return };
    let strategy = spec.entry("updateStrategy").or_insert_with(|| json!({}));
    if let Some(st) = strategy.as_object_mut() {
        or_insert(st, "type", json!("RollingUpdate"));
        if st.get("type") == Some(&json!("RollingUpdate")) {
            let ru = st.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Some(ru) = ru.as_object_mut() {
                or_insert(ru, "maxUnavailable", json!(1));
                or_insert(ru, "maxSurge", json!(0));
            }
        }
    }
    or_insert(spec, "revisionHistoryLimit", json!(10));
    template(obj.get_mut("spec"));
}

fn cronjob(obj: &mut Value) {
    let Some(spec) = map_at(obj, "spec") else { return };
    or_insert(spec, "concurrencyPolicy", json!("Allow"));
    or_insert(spec, "suspend", json!(false));
    or_insert(spec, "successfulJobsHistoryLimit", json!(3));
    or_insert(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(jt) = spec.get_mut("jobTemplate") {
        template(jt.get_mut("spec"));
    }
}

/// SetDefaults_Job (a CronJob's job template is not defaulted this way: only its pod).
fn job_spec(spec: &mut Value) {
    if let Some(s) = spec.as_object_mut() {
        if s.get("completions").is_none_or(Value::is_null)
            && s.get("parallelism").is_none_or(Value::is_null)
        {
            s.insert("completions".into(), json!(1));
            s.insert("parallelism".into(), json!(1));
        }
        or_insert(s, "parallelism", json!(1));
        or_insert(s, "backoffLimit", json!(6));
        or_insert(s, "completionMode", json!("NonIndexed"));
        or_insert(s, "suspend", json!(false));
        or_insert(s, "manualSelector", json!(false));
        let failed_policy = s.contains_key("podFailurePolicy");
        or_insert(
            s,
            "podReplacementPolicy",
            json!(if failed_policy { "Failed" } else { "TerminatingOrFailed" }),
        );
    }
    template(Some(spec));
}

/// Defaults of `spec.template.spec`, given the spec that holds the template.
fn template(spec: Option<&mut Value>) {
    if let Some(pod) = spec.and_then(|s| s.get_mut("template")).and_then(|t| t.get_mut("spec")) {
        pod_spec(pod);
    }
}

pub fn pod_spec(spec: &mut Value) {
    let host_network = spec.get("hostNetwork") == Some(&json!(true));
    for key in ["containers", "initContainers"] {
        for c in each(spec, key) {
            container(c, host_network);
        }
    }
    for v in each(spec, "volumes") {
        volume(v);
    }
    let Some(s) = spec.as_object_mut() else { return };
    or_insert(s, "dnsPolicy", json!("ClusterFirst"));
    or_insert(s, "restartPolicy", json!("Always"));
    or_insert(s, "terminationGracePeriodSeconds", json!(30));
    or_insert(s, "securityContext", json!({}));
    or_insert(s, "schedulerName", json!("default-scheduler"));
    match (s.get("serviceAccountName").cloned(), s.get("serviceAccount").cloned()) {
        (Some(name), None) if name.as_str().is_some_and(|n| !n.is_empty()) => {
            s.insert("serviceAccount".into(), name);
        }
        (None, Some(name)) if name.as_str().is_some_and(|n| !n.is_empty()) => {
            s.insert("serviceAccountName".into(), name);
        }
        _ => {}
    }
}

fn container(c: &mut Map<String, Value>, host_network: bool) {
    or_insert(c, "terminationMessagePath", json!("/dev/termination-log"));
    or_insert(c, "terminationMessagePolicy", json!("File"));
    if c.get("imagePullPolicy").is_none_or(|p| p.is_null() || p == "") {
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        c.insert("imagePullPolicy".into(), json!(pull_policy(image)));
    }
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            or_insert(p, "protocol", json!("TCP"));
            if host_network
                && p.get("hostPort").is_none_or(|h| h.is_null() || h == 0)
                && let Some(cp) = p.get("containerPort").cloned()
            {
                p.insert("hostPort".into(), cp);
            }
        }
    }
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(key).and_then(Value::as_object_mut) {
            probe(p);
        }
    }
    if let Some(l) = c.get_mut("lifecycle").and_then(Value::as_object_mut) {
        for h in ["postStart", "preStop"] {
            if let Some(g) =
                l.get_mut(h).and_then(|h| h.get_mut("httpGet")).and_then(Value::as_object_mut)
            {
                or_insert(g, "scheme", json!("HTTP"));
            }
        }
    }
    if let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) {
        for e in env.iter_mut() {
            if let Some(f) = e.pointer_mut("/valueFrom/fieldRef").and_then(Value::as_object_mut) {
                or_insert(f, "apiVersion", json!("v1"));
            }
        }
    }
}

/// `Always` for `:latest` or no tag, `IfNotPresent` otherwise (digests included).
fn pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) if tag != "latest" => "IfNotPresent",
        _ => "Always",
    }
}

fn probe(p: &mut Map<String, Value>) {
    or_insert(p, "timeoutSeconds", json!(1));
    or_insert(p, "periodSeconds", json!(10));
    or_insert(p, "successThreshold", json!(1));
    or_insert(p, "failureThreshold", json!(3));
    if let Some(g) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
        or_insert(g, "scheme", json!("HTTP"));
    }
    if let Some(g) = p.get_mut("grpc").and_then(Value::as_object_mut) {
        or_insert(g, "service", json!(""));
    }
}

fn volume(v: &mut Map<String, Value>) {
    for key in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = v.get_mut(key).and_then(Value::as_object_mut) {
            or_insert(s, "defaultMode", json!(420));
        }
    }
    if let Some(h) = v.get_mut("hostPath").and_then(Value::as_object_mut) {
        or_insert(h, "type", json!(""));
    }
    if let Some(sources) =
        v.get_mut("projected").and_then(|p| p.get_mut("sources")).and_then(Value::as_array_mut)
    {
        for s in sources.iter_mut() {
            if let Some(t) = s.get_mut("serviceAccountToken").and_then(Value::as_object_mut) {
                or_insert(t, "expirationSeconds", json!(3600));
            }
        }
    }
    if let Some(items) =
        v.get_mut("downwardAPI").and_then(|d| d.get_mut("items")).and_then(Value::as_array_mut)
    {
        for i in items.iter_mut() {
            if let Some(f) = i.get_mut("fieldRef").and_then(Value::as_object_mut) {
                or_insert(f, "apiVersion", json!("v1"));
            }
        }
    }
}

fn service(obj: &mut Value) {
    let Some(spec) = map_at(obj, "spec") else { return };
    or_insert(spec, "type", json!("ClusterIP"));
    or_insert(spec, "sessionAffinity", json!("None"));
    let ty = spec.get("type").and_then(Value::as_str).unwrap_or("").to_string();
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            or_insert(p, "protocol", json!("TCP"));
            let unset = p.get("targetPort").is_none_or(|t| t.is_null() || t == 0 || t == "");
            if unset && let Some(port) = p.get("port").cloned() {
                p.insert("targetPort".into(), port);
            }
        }
    }
    if ty == "ExternalName" {
        return;
    }
    if let Some(ip) = spec.get("clusterIP").cloned()
        && ip.as_str().is_some_and(|s| !s.is_empty())
        && spec.get("clusterIPs").is_none_or(|c| c.as_array().is_none_or(Vec::is_empty))
    {
        spec.insert("clusterIPs".into(), json!([ip]));
    }
    or_insert(spec, "internalTrafficPolicy", json!("Cluster"));
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
        or_insert(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        or_insert(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}

fn network_policy(obj: &mut Value) {
    let Some(spec) = map_at(obj, "spec") else { return };
    if spec.get("policyTypes").is_none_or(|p| p.as_array().is_none_or(Vec::is_empty)) {
        let mut types = vec![json!("Ingress")];
        if spec.get("egress").and_then(Value::as_array).is_some_and(|e| !e.is_empty()) {
            types.push(json!("Egress"));
        }
        spec.insert("policyTypes".into(), Value::Array(types));
    }
    for dir in ["ingress", "egress"] {
        if let Some(rules) = spec.get_mut(dir).and_then(Value::as_array_mut) {
            for r in rules.iter_mut() {
                for p in r.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
                    if let Some(p) = p.as_object_mut() {
                        or_insert(p, "protocol", json!("TCP"));
                    }
                }
            }
        }
    }
}

/// A CustomResourceDefinition's defaults (apiextensions v1 `SetDefaults_*`): the singular
/// name and list kind, the `None` conversion, a webhook service's port 443, and the stored
/// versions. On create, also the status the establishing controllers write a moment later
/// on a real server (accepted names, `NamesAccepted` and `Established`).
pub fn custom_resource_definition(obj: &mut Value, create: bool) {
    let Some(spec) = map_at(obj, "spec") else { return };
    if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) {
        let kind = names.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
        or_insert(names, "singular", json!(kind.to_lowercase()));
        if !kind.is_empty() {
            or_insert(names, "listKind", json!(format!("{kind}List")));
        }
    }
    let conversion = spec.entry("conversion").or_insert_with(|| json!({"strategy": "None"}));
    if let Some(service) = conversion.pointer_mut("/webhook/clientConfig/service")
        && let Some(service) = service.as_object_mut()
    {
        or_insert(service, "port", json!(443));
    }
    let names = spec.get("names").cloned().unwrap_or_else(|| json!({}));
    let storage: Vec<Value> = spec
        .get("versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v["storage"] == json!(true))
        .map(|v| v["name"].clone())
        .collect();
    let Some(root) = obj.as_object_mut() else { return };
    let status = root.entry("status").or_insert_with(|| json!({}));
    let Some(status) = status.as_object_mut() else { return };
    if status.get("storedVersions").and_then(Value::as_array).is_none_or(Vec::is_empty) {
        status.insert("storedVersions".into(), Value::Array(storage));
    }
    if create && !status.contains_key("conditions") {
        let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        status.insert("acceptedNames".into(), names);
        status.insert(
            "conditions".into(),
            json!([
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                    "message": "no conflicts found", "lastTransitionTime": now},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted", "lastTransitionTime": now},
            ]),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_follows_the_tag() {
        assert_eq!(pull_policy("quay.io/a/b:latest"), "Always");
        assert_eq!(pull_policy("quay.io/a/b"), "Always");
        assert_eq!(pull_policy("localhost:5000/b"), "Always");
        assert_eq!(pull_policy("quay.io/a/b:v1"), "IfNotPresent");
        assert_eq!(pull_policy("quay.io/a/b@sha256:00"), "IfNotPresent");
    }

    #[test]
    fn a_deployment_gets_the_rolling_update_and_pod_defaults() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x:1",
            "ports": [{"containerPort": 80}], "readinessProbe": {"httpGet": {"port": 80}}}]}}}});
        apply("apps/deployments", &mut d, true);
        assert_eq!(
            d["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(c["readinessProbe"]["httpGet"]["scheme"], "HTTP");
        assert_eq!(c["readinessProbe"]["failureThreshold"], 3);
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
        assert_eq!(d["status"], json!({}));
    }

    #[test]
    fn a_recreate_deployment_gets_no_rolling_update() {
        let mut d = json!({"spec": {"strategy": {"type": "Recreate"}}});
        apply("apps/deployments", &mut d, false);
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
    }
}
