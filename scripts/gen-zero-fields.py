#!/usr/bin/env python3
"""Writes crates/testkit/src/apiserver/protobuf/zero.rs from the Go struct tags of the types
behind the built-in kinds the in-memory API server stores:
- the scalar fields that are values (not pointers) with `omitempty`: Go's protobuf encoder
  always writes those, zero or not, while its JSON encoder leaves a zero out; so a zero read
  from a protobuf body is "absent" for them and a value for every other field (pointers:
  `replicas: 0`, `runAsUser: 0`, `optional: false`);
- the fields JSON inlines (`json:",inline"`), which protobuf carries as a message of their own.

Usage: gen-zero-fields.py <k8s.io/api> <k8s.io/apimachinery> <k8s.io/apiextensions-apiserver> [out]
(each a work tree or `git archive` at v0.34.x; only the Go type files are read).
"""
import os
import re
import sys

API, MACHINERY, EXTENSIONS = sys.argv[1], sys.argv[2], sys.argv[3]
PACKAGES = {
    "io.k8s.api.core.v1": f"{API}/core/v1",
    "io.k8s.api.apps.v1": f"{API}/apps/v1",
    "io.k8s.api.batch.v1": f"{API}/batch/v1",
    "io.k8s.api.policy.v1": f"{API}/policy/v1",
    "io.k8s.api.networking.v1": f"{API}/networking/v1",
    "io.k8s.api.rbac.v1": f"{API}/rbac/v1",
    "io.k8s.api.coordination.v1": f"{API}/coordination/v1",
    "io.k8s.api.events.v1": f"{API}/events/v1",
    "io.k8s.apimachinery.pkg.apis.meta.v1": f"{MACHINERY}/pkg/apis/meta/v1",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1":
        f"{EXTENSIONS}/pkg/apis/apiextensions/v1",
}
ROOTS = {
    "io.k8s.api.core.v1": ["Pod", "Service", "Secret", "ConfigMap", "ServiceAccount",
                           "PersistentVolumeClaim", "Namespace", "Event", "Node", "Endpoints"],
    "io.k8s.api.apps.v1": ["Deployment", "ReplicaSet", "DaemonSet", "StatefulSet"],
    "io.k8s.api.batch.v1": ["Job", "CronJob"],
    "io.k8s.api.policy.v1": ["PodDisruptionBudget"],
    "io.k8s.api.networking.v1": ["NetworkPolicy", "Ingress", "IngressClass"],
    "io.k8s.api.events.v1": ["Event"],
    "io.k8s.api.rbac.v1": ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"],
    "io.k8s.api.coordination.v1": ["Lease"],
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1": ["CustomResourceDefinition"],
}
IMPORTS = {"metav1": "io.k8s.apimachinery.pkg.apis.meta.v1", "v1": "io.k8s.api.core.v1",
           "corev1": "io.k8s.api.core.v1", "types": "k8s.io.apimachinery.pkg.types"}
SCALARS = {"string", "bool", "int", "int32", "int64", "float64", "byte"}

structs, aliases = {}, {("k8s.io.apimachinery.pkg.types", "UID"): "string"}
# Named lists and maps (`type ValidationRules []ValidationRule`): their element type.
collections = {}
FIELD = re.compile(r'^\s*(\w+)\s+([\w.*\[\]]+)\s+`([^`]*)`')
EMBEDDED = re.compile(r'^\s*([\w.*]+)\s+`([^`]*)`')
for pkg, path in PACKAGES.items():
    for name in sorted(os.listdir(path)):
        if not name.endswith(".go") or name.endswith("_test.go") or name.startswith("zz_"):
            continue
        text = open(os.path.join(path, name)).read()
        for m in re.finditer(r'^type (\w+) (\w+)\s*$', text, re.M):
            if m.group(2) in SCALARS:
                aliases[(pkg, m.group(1))] = m.group(2)
        for m in re.finditer(r'^type (\w+) (?:\[\]|map\[string\])(\w+)\s*$', text, re.M):
            collections[(pkg, m.group(1))] = (pkg, m.group(2))
        for m in re.finditer(r'^type (\w+) struct \{\n(.*?)^\}', text, re.M | re.S):
            fields = []
            for line in m.group(2).splitlines():
                f = FIELD.match(line)
                e = EMBEDDED.match(line)
                if f:
                    fields.append((f.group(2), f.group(3)))
                elif e:
                    fields.append((e.group(1), e.group(2)))
            structs[(pkg, m.group(1))] = fields


def resolve(pkg, go_type):
    """(package, name) of a named Go type as written in package pkg."""
    t = go_type.lstrip("*").replace("[]", "")
    if t.startswith("map["):
        t = t.split("]", 1)[1].lstrip("*").replace("[]", "")
    if "." in t:
        alias, t = t.split(".", 1)
        return IMPORTS.get(alias), t
    return collections.get((pkg, t), (pkg, t))


def json_tag(tag):
    m = re.search(r'json:"([^"]*)"', tag)
    return m.group(1).split(",") if m else None


seen, queue = set(), [(p, r) for p, rs in ROOTS.items() for r in rs]
table = {}


def zero_fields(key):
    """The zero-is-absent fields of a struct, with those of the structs it inlines."""
    pkg, _ = key
    zero = []
    for go_type, tag in structs.get(key, []):
        parts = json_tag(tag)
        if parts and parts[0] == "" and "inline" in parts and "TypeMeta" not in go_type:
            zero += zero_fields(resolve(pkg, go_type))
            continue
        if not parts or not parts[0]:
            continue
        name, opts = parts[0], parts[1:]
        target = resolve(pkg, go_type)
        base = go_type.lstrip("*")
        scalar = base in SCALARS or target in aliases
        if scalar and not go_type.startswith(("*", "[]", "map[")) and "omitempty" in opts:
            zero.append(name)
        if not scalar:
            queue.append(target)
    return zero


def inlined(key):
    """The protobuf names of the fields a struct inlines in JSON (`VolumeSource`)."""
    out = []
    for go_type, tag in structs.get(key, []):
        parts = json_tag(tag)
        if parts and parts[0] == "" and "inline" in parts and "TypeMeta" not in go_type:
            m = re.search(r'protobuf:"[^"]*name=(\w+)', tag)
            name = m.group(1) if m else go_type.split(".")[-1]
            out.append(name[0].lower() + name[1:])
    return out


inline = {}
while queue:
    key = queue.pop()
    if key in seen or key not in structs:
        continue
    seen.add(key)
    if inlined(key):
        inline[f"{key[0]}.{key[1]}"] = inlined(key)
    zero = zero_fields(key)
    if zero:
        table[f"{key[0]}.{key[1]}"] = zero

out = ["// @generated by scripts/gen-zero-fields.py from k8s.io/api, k8s.io/apimachinery and",
       "// k8s.io/apiextensions-apiserver v0.34 (their Go struct tags); do not edit by hand.",
       "",
       "/// Per Go type (by its OpenAPI name), the scalar fields a zero of which is \"absent\".",
       "#[rustfmt::skip]",
       "pub(super) const ZERO_IS_ABSENT: &[(&str, &[&str])] = &["]
for name in sorted(table):
    fields = ", ".join(f'"{f}"' for f in table[name])
    out.append(f'    ("{name}", &[{fields}]),')
out.append("];")
out += ["",
        "/// Per Go type, the fields protobuf carries as messages and JSON inlines (`json:\",inline\"`).",
        "#[rustfmt::skip]",
        "pub(super) const INLINED: &[(&str, &[&str])] = &["]
for name in sorted(inline):
    fields = ", ".join(f'"{f}"' for f in inline[name])
    out.append(f'    ("{name}", &[{fields}]),')
out.append("];")
open(sys.argv[4] if len(sys.argv) > 4 else "/dev/stdout", "w").write("\n".join(out) + "\n")
