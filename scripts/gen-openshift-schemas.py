#!/usr/bin/env python3
"""Writes crates/api/schemas/<plural>.json: the validation of the OpenShift config kinds
the operator reads or writes (Infrastructure, Proxy, Image, APIServer, ClusterVersion,
FeatureGate, ClusterOperator), taken from openshift/api's published CRDs (the Default
feature set): every type, enum, pattern, bound, default and CEL rule, without the
descriptions. The in-memory API server then refuses what the real one refuses for them.

Usage: gen-openshift-schemas.py <dir of openshift/api CRD files> [out dir]
(for instance ../shared/crds, or openshift/api's payload-manifests/crds at a release).
"""
import json
import os
import sys

import yaml

SRC = sys.argv[1]
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
    os.path.dirname(__file__), "..", "crates", "api", "schemas")
FILES = {
    "infrastructures": "config.openshift.io_infrastructures-Default.crd.yaml",
    "proxies": "config.openshift.io_proxies.crd.yaml",
    "images": "config.openshift.io_images.crd.yaml",
    "apiservers": "config.openshift.io_apiservers-Default.crd.yaml",
    "clusterversions": "config.openshift.io_clusterversions-Default.crd.yaml",
    "featuregates": "config.openshift.io_featuregates.crd.yaml",
    "clusteroperators": "config.openshift.io_clusteroperators.crd.yaml",
}


def strip(node):
    """The schema without prose: `description` keywords go (a property that is named
    `description` is a mapping under `properties`, and stays)."""
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items()
                if not (k == "description" and isinstance(v, str))}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


os.makedirs(OUT, exist_ok=True)
for plural, name in FILES.items():
    with open(os.path.join(SRC, name)) as f:
        crd = next(d for d in yaml.safe_load_all(f) if d)
    version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
    schema = strip(version["schema"]["openAPIV3Schema"])
    with open(os.path.join(OUT, f"{plural}.json"), "w") as f:
        json.dump(schema, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{plural}: {version['name']} from {name}")
