"""The Kubernetes manifests (packaging/k8s): every object validates against the Kubernetes API schemas, offline
(kubernetes-validate ships them), strictly (an unknown or misspelt field fails); and the shape is the one the
design names: gateway replicas on PostgreSQL, a Qdrant cluster, GPU-requesting vLLM replicas, probes on
/healthz and /readyz, secrets for every credential, nothing running as root."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

MANIFESTS = Path(__file__).resolve().parents[2] / "packaging" / "k8s"
KUBERNETES = "1.33.0"


def _objects() -> list[dict]:
    return [
        doc
        for path in sorted(MANIFESTS.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def _named(kind: str, name: str) -> dict:
    return next(o for o in _objects() if o["kind"] == kind and o["metadata"]["name"] == name)


@pytest.mark.parametrize("obj", _objects(), ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_every_object_validates_strictly(obj: dict) -> None:
    kubernetes_validate.validate(obj, KUBERNETES, strict=True)


def test_a_misspelt_field_fails_validation() -> None:
    gateway = _named("Deployment", "codemoat-gateway")
    broken = {**gateway, "spec": {**gateway["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_the_scale_out_shape() -> None:
    gateway = _named("Deployment", "codemoat-gateway")
    assert gateway["spec"]["replicas"] >= 2
    container = gateway["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    config = _named("ConfigMap", "codemoat-gateway")["data"]
    assert config["CODEMOAT_STATE__DATABASE_URL"].startswith("postgresql://")
    assert config["CODEMOAT_INDEXER__STORE"] == "server"
    qdrant = _named("StatefulSet", "codemoat-qdrant")
    assert qdrant["spec"]["replicas"] >= 3
    vllm = _named("StatefulSet", "codemoat-vllm")
    resources = vllm["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == 1
    replicas = vllm["spec"]["replicas"]
    assert len(json.loads(config["CODEMOAT_ENGINE__UPSTREAM_URLS"])) == replicas
    assert _named("Secret", "codemoat-tls")["type"] == "kubernetes.io/tls"


def test_credentials_come_from_secrets_and_nothing_runs_as_root() -> None:
    secrets = {
        (o["metadata"]["name"], key) for o in _objects() if o["kind"] == "Secret" for key in o["stringData"]
    }
    for obj in _objects():
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]
        for container in pod["containers"]:
            for variable in container.get("env", []):
                name = variable["name"]
                if any(word in name for word in ("PASSWORD", "API_KEY", "TOKEN")):
                    ref = variable["valueFrom"]["secretKeyRef"]
                    assert (ref["name"], ref["key"]) in secrets, name
    config = _named("ConfigMap", "codemoat-gateway")["data"]
    assert not [k for k in config if any(w in k for w in ("PASSWORD", "API_KEY", "TOKEN"))]
