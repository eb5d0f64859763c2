//! Our generated CRDs against the published openshift/api CRDs in `../shared/crds`:
//! same names, scope and subresources; the same properties with the same required
//! fields, enums, patterns, defaults and bounds; and the same verdict on sample objects.
//! Also: every sample the schema accepts deserializes into our types and serializes back
//! without losing a field.

use imageregistry_api::schema::crds;
use imageregistry_api::{Config, ImagePruner};
use serde_json::{Value, json};
use testkit::schema::{compare, crd_schema, validate};

fn ours(kind: &str) -> Value {
    let crd = crds().into_iter().find(|c| c.spec.names.kind == kind).expect("kind generated");
    serde_json::to_value(crd).unwrap()
}

fn reference(file: &str) -> Option<Value> {
    let dir = testkit::shared_dir_or_skip(file)?;
    let text = std::fs::read_to_string(dir.join("crds").join(file)).unwrap();
    Some(testkit::yaml_docs(&text).unwrap().remove(0))
}

fn same_definition(reference: &Value, ours: &Value) {
    for ptr in [
        "/spec/group",
        "/spec/names",
        "/spec/scope",
        "/spec/versions/0/name",
        "/spec/versions/0/served",
        "/spec/versions/0/storage",
        "/spec/versions/0/subresources",
        "/spec/versions/0/additionalPrinterColumns",
    ] {
        assert_eq!(reference.pointer(ptr), ours.pointer(ptr), "{ptr}");
    }
    let diffs = compare(crd_schema(reference).unwrap(), crd_schema(ours).unwrap());
    assert!(diffs.is_empty(), "schema differences:\n{}", diffs.join("\n"));
}

#[test]
fn config_crd_matches_openshift_api() {
    let Some(reference) = reference("imageregistry.operator.openshift.io_configs.crd.yaml") else {
        return;
    };
    same_definition(&reference, &ours("Config"));
}

#[test]
fn imagepruner_crd_matches_openshift_api() {
    let Some(reference) = reference("imageregistry.operator.openshift.io_imagepruners.crd.yaml")
    else {
        return;
    };
    same_definition(&reference, &ours("ImagePruner"));
}

/// `a` is contained in `b`: every field of `a` is in `b` with the same value.
fn contained(a: &Value, b: &Value, path: &str) -> Result<(), String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                let Some(w) = y.get(k) else { return Err(format!("{path}.{k} lost")) };
                contained(v, w, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                contained(v, w, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => Ok(()),
        _ if a == b => Ok(()),
        _ => Err(format!("{path}: {a} became {b}")),
    }
}

fn config(spec: Value) -> Value {
    json!({"apiVersion": "imageregistry.operator.openshift.io/v1", "kind": "Config",
        "metadata": {"name": "cluster"}, "spec": spec})
}

fn config_samples() -> Vec<(&'static str, Value, bool)> {
    let full = json!({
        "managementState": "Managed", "logLevel": "Debug", "operatorLogLevel": "Trace",
        "httpSecret": "s", "replicas": 2, "readOnly": true, "disableRedirect": true,
        "defaultRoute": true, "rolloutStrategy": "Recreate", "logging": 2,
        "proxy": {"http": "http://p:3128", "https": "https://p:3129", "noProxy": ".svc"},
        "requests": {"read": {"maxRunning": 1, "maxInQueue": 2, "maxWaitInQueue": "3s"},
                     "write": {"maxRunning": 4, "maxInQueue": 5, "maxWaitInQueue": "6h"}},
        "routes": [{"name": "r", "hostname": "h.example.com", "secretName": "tls"}],
        "nodeSelector": {"role": "infra"},
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": "kubernetes.io/hostname",
             "labelSelector": {"matchLabels": {"docker-registry": "default"}}}]}},
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
            "whenUnsatisfiable": "DoNotSchedule"}],
        "unsupportedConfigOverrides": {"deployment": {"annotations": {"a": "b"}}},
        "observedConfig": {"servingInfo": {"minTLSVersion": "VersionTLS12"}},
        "storage": {"managementState": "Unmanaged", "s3": {"bucket": "b", "region": "us-east-1",
            "regionEndpoint": "https://s3.example.com", "chunkSizeMiB": 10, "encrypt": true,
            "keyID": "k", "virtualHostedStyle": false, "trustedCA": {"name": "ca"},
            "cloudFront": {"baseURL": "https://cf", "keypairID": "kp", "duration": "300s",
                "privateKey": {"name": "cf", "key": "private.pem"}}}}
    });
    vec![
        ("minimal", config(json!({"replicas": 1})), true),
        ("every spec field", config(full), true),
        (
            "every storage: gcs",
            config(
                json!({"replicas": 1, "storage": {"gcs": {"bucket": "b", "region": "r", "projectID": "p", "keyID": "k"}}}),
            ),
            true,
        ),
        (
            "swift",
            config(
                json!({"replicas": 1, "storage": {"swift": {"authURL": "u", "authVersion": "3", "container": "c", "domain": "d", "domainID": "di", "tenant": "t", "tenantID": "ti", "regionName": "rn"}}}),
            ),
            true,
        ),
        ("pvc", config(json!({"replicas": 1, "storage": {"pvc": {"claim": "c"}}})), true),
        ("emptyDir", config(json!({"replicas": 1, "storage": {"emptyDir": {}}})), true),
        (
            "azure",
            config(
                json!({"replicas": 1, "storage": {"azure": {"accountName": "a", "container": "abc-def", "cloudName": "AzurePublicCloud", "networkAccess": {"type": "Internal", "internal": {"networkResourceGroupName": "rg", "vnetName": "vn", "subnetName": "s", "privateEndpointName": "pe"}}}}}),
            ),
            true,
        ),
        (
            "ibmcos",
            config(
                json!({"replicas": 1, "storage": {"ibmcos": {"bucket": "b", "location": "us-south", "resourceGroupName": "rg", "resourceKeyCRN": "crn:v1:bluemix:public:cloud-object-storage:global:a/1:2:resource-key:3", "serviceInstanceCRN": "crn:v1:bluemix:public:cloud-object-storage:global:a/1:2::"}}}),
            ),
            true,
        ),
        (
            "oss",
            config(
                json!({"replicas": 1, "storage": {"oss": {"bucket": "abc", "region": "cn", "endpointAccessibility": "Public", "encryption": {"method": "KMS", "kms": {"keyID": "k"}}}}}),
            ),
            true,
        ),
        (
            "status",
            {
                let mut c = config(json!({"replicas": 1}));
                c["status"] = json!({"storageManaged": true, "storage": {"emptyDir": {}, "managementState": "Managed"},
                "observedGeneration": 3, "readyReplicas": 1, "latestAvailableRevision": 2, "version": "v",
                "conditions": [{"type": "Available", "status": "True", "lastTransitionTime": "2026-01-02T03:04:05Z", "reason": "Ready", "message": "ok"}],
                "generations": [{"group": "apps", "resource": "deployments", "namespace": "ns", "name": "n", "lastGeneration": 4, "hash": ""}]});
                c
            },
            true,
        ),
        ("no replicas", config(json!({})), false),
        (
            "no spec",
            json!({"apiVersion": "imageregistry.operator.openshift.io/v1", "kind": "Config", "metadata": {"name": "cluster"}}),
            false,
        ),
        ("replicas not a number", config(json!({"replicas": "two"})), false),
        (
            "bad managementState",
            config(json!({"replicas": 1, "managementState": "Sometimes"})),
            false,
        ),
        ("bad logLevel", config(json!({"replicas": 1, "logLevel": "Loud"})), false),
        (
            "bad rolloutStrategy",
            config(json!({"replicas": 1, "rolloutStrategy": "BlueGreen"})),
            false,
        ),
        (
            "chunk too small",
            config(json!({"replicas": 1, "storage": {"s3": {"chunkSizeMiB": 4}}})),
            false,
        ),
        (
            "chunk too big",
            config(json!({"replicas": 1, "storage": {"s3": {"chunkSizeMiB": 5121}}})),
            false,
        ),
        (
            "cloudFront without keypairID",
            config(
                json!({"replicas": 1, "storage": {"s3": {"cloudFront": {"baseURL": "u", "privateKey": {"key": "k"}}}}}),
            ),
            false,
        ),
        (
            "bad trustedCA name",
            config(json!({"replicas": 1, "storage": {"s3": {"trustedCA": {"name": "Not_Valid"}}}})),
            false,
        ),
        (
            "bad azure container",
            config(json!({"replicas": 1, "storage": {"azure": {"container": "UPPER"}}})),
            false,
        ),
        (
            "short azure container",
            config(json!({"replicas": 1, "storage": {"azure": {"container": "ab"}}})),
            false,
        ),
        (
            "bad networkAccess type",
            config(
                json!({"replicas": 1, "storage": {"azure": {"networkAccess": {"type": "Private"}}}}),
            ),
            false,
        ),
        (
            "bad storage managementState",
            config(json!({"replicas": 1, "storage": {"managementState": "Removed"}})),
            false,
        ),
        (
            "bad ibmcos CRN",
            config(json!({"replicas": 1, "storage": {"ibmcos": {"resourceKeyCRN": "crn:nope"}}})),
            false,
        ),
        (
            "route without name",
            config(json!({"replicas": 1, "routes": [{"hostname": "h"}]})),
            false,
        ),
        (
            "bad oss method",
            config(json!({"replicas": 1, "storage": {"oss": {"encryption": {"method": "DES"}}}})),
            false,
        ),
        (
            "oss kms without keyID",
            config(json!({"replicas": 1, "storage": {"oss": {"encryption": {"kms": {}}}}})),
            false,
        ),
        (
            "bad condition status",
            {
                let mut c = config(json!({"replicas": 1}));
                c["status"] = json!({"storageManaged": false, "storage": {}, "conditions": [{"type": "A", "status": "Maybe", "lastTransitionTime": "2026-01-02T03:04:05Z"}]});
                c
            },
            false,
        ),
        (
            "status without storage",
            {
                let mut c = config(json!({"replicas": 1}));
                c["status"] = json!({"storageManaged": false});
                c
            },
            false,
        ),
        (
            "bad resource quantity",
            config(json!({"replicas": 1, "resources": {"requests": {"cpu": "lots"}}})),
            false,
        ),
    ]
}

fn pruner(spec: Value) -> Value {
    json!({"apiVersion": "imageregistry.operator.openshift.io/v1", "kind": "ImagePruner",
        "metadata": {"name": "cluster"}, "spec": spec})
}

fn pruner_samples() -> Vec<(&'static str, Value, bool)> {
    vec![
        ("empty spec", pruner(json!({})), true),
        (
            "every field",
            pruner(json!({"schedule": "0 0 * * *", "suspend": false, "keepTagRevisions": 3,
            "keepYoungerThan": 3600000000000_i64, "keepYoungerThanDuration": "60m",
            "resources": {"requests": {"cpu": "100m"}}, "affinity": {}, "nodeSelector": {"a": "b"},
            "tolerations": [{"operator": "Exists"}], "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3, "ignoreInvalidImageReferences": true, "logLevel": "TraceAll"})),
            true,
        ),
        ("bad logLevel", pruner(json!({"logLevel": "Quiet"})), false),
        ("suspend not bool", pruner(json!({"suspend": "yes"})), false),
        ("keepTagRevisions not int", pruner(json!({"keepTagRevisions": "3"})), false),
    ]
}

fn same_verdicts(
    reference: &Value,
    ours: &Value,
    samples: Vec<(&str, Value, bool)>,
    roundtrip: impl Fn(&Value) -> Result<Value, String>,
) {
    let (rs, os) = (crd_schema(reference).unwrap(), crd_schema(ours).unwrap());
    for (name, obj, accept) in samples {
        let r = validate(rs, &obj);
        let o = validate(os, &obj);
        assert_eq!(r.is_ok(), accept, "{name}: reference verdict {r:?}");
        assert_eq!(o.is_ok(), accept, "{name}: our verdict {o:?}");
        if accept {
            let back = roundtrip(&obj).unwrap_or_else(|e| panic!("{name}: {e}"));
            contained(&obj, &back, "").unwrap_or_else(|e| panic!("{name}: round trip: {e}"));
        }
    }
}

#[test]
fn configs_are_accepted_and_rejected_like_openshift_api() {
    let Some(reference) = reference("imageregistry.operator.openshift.io_configs.crd.yaml") else {
        return;
    };
    same_verdicts(&reference, &ours("Config"), config_samples(), |v| {
        let c: Config = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        serde_json::to_value(c).map_err(|e| e.to_string())
    });
}

#[test]
fn imagepruners_are_accepted_and_rejected_like_openshift_api() {
    let Some(reference) = reference("imageregistry.operator.openshift.io_imagepruners.crd.yaml")
    else {
        return;
    };
    same_verdicts(&reference, &ours("ImagePruner"), pruner_samples(), |v| {
        let p: ImagePruner = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        serde_json::to_value(p).map_err(|e| e.to_string())
    });
}

#[test]
fn generated_crds_are_valid_yaml_with_both_kinds() {
    let docs = testkit::yaml_docs(&imageregistry_api::schema::crds_yaml()).unwrap();
    let kinds: Vec<_> = docs.iter().map(|d| d["spec"]["names"]["kind"].clone()).collect();
    assert_eq!(kinds, vec![json!("Config"), json!("ImagePruner")]);
    assert_eq!(docs[0]["metadata"]["name"], "configs.imageregistry.operator.openshift.io");
}

/// The CRDs of the OpenShift types a local cluster stands in for: the names kubectl
/// resolves (`kubectl get co`), the scope, the subresources, the printed columns and the
/// schemas (`scripts/gen-openshift-schemas.py` writes them) are openshift/api's.
#[test]
fn openshift_crds_have_openshift_api_names_and_columns() {
    let Some(dir) = testkit::shared_dir_or_skip("crds") else { return };
    let ours = imageregistry_api::schema::openshift_crds();
    let mut compared = 0;
    for entry in std::fs::read_dir(dir.join("crds")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let reference = testkit::yaml_docs(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let reference = &reference[0];
        let kind = reference.pointer("/spec/names/kind").unwrap();
        let Some(our) = ours.iter().find(|c| json!(c.spec.names.kind) == *kind) else { continue };
        let our = serde_json::to_value(our).unwrap();
        for ptr in [
            "/spec/group",
            "/spec/names",
            "/spec/scope",
            "/spec/versions/0/name",
            "/spec/versions/0/subresources",
            "/spec/versions/0/additionalPrinterColumns",
        ] {
            assert_eq!(reference.pointer(ptr), our.pointer(ptr), "{kind} {ptr}");
        }
        // The config kinds validate as openshift/api's (Route keeps only its host rule).
        if *kind != "Route" {
            let diffs = compare(crd_schema(reference).unwrap(), crd_schema(&our).unwrap());
            assert!(diffs.is_empty(), "{kind} schema differences:\n{}", diffs.join("\n"));
        }
        compared += 1;
    }
    assert_eq!(compared, ours.len(), "every OpenShift CRD we generate has a reference");
}
