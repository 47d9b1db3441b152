"""Rendering the kustomize overlays and reading what they hold, for the infrastructure tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "infra" / "k8s"
OVERLAYS = ("dev", "gke", "eks")
CLOUD_OVERLAYS = ("gke", "eks")
NAMESPACE = "tixvibe"
# Each overlay as it ships, and each cloud overlay with a managed MongoDB.
VARIANTS: dict[str, tuple[str, ...]] = {
    **{overlay: (overlay,) for overlay in OVERLAYS},
    **{f"{cloud}+managed-mongo": (cloud, "managed-mongo") for cloud in CLOUD_OVERLAYS},
}
# The oldest Kubernetes the manifests are for (native preStop sleep, matchLabelKeys).
MIN_KUBERNETES = "1.33.0"

Doc = dict[str, Any]


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl is needed to render the kustomize overlays")
    return found


def _kustomize(directory: Path) -> list[Doc]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)], check=True, capture_output=True, text=True
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render(overlay: str, *components: str) -> list[Doc]:
    """An overlay, with extra components (as an operator would list them in it)."""
    if not components:
        return _kustomize(K8S / "overlays" / overlay)
    # kustomize only follows relative paths, so the wrapper lives inside the tree.
    with tempfile.TemporaryDirectory(dir=K8S) as scratch:
        here = Path(scratch)
        relative = [os.path.relpath(K8S / "components" / c, here) for c in components]
        (here / "kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "resources": [os.path.relpath(K8S / "overlays" / overlay, here)],
                    "components": relative,
                }
            )
        )
        return _kustomize(here)


@dataclass
class Manifests:
    """One rendered deployment: its documents, looked up by kind and name."""

    name: str
    docs: list[Doc]
    by_key: dict[tuple[str, str], Doc] = field(init=False)

    def __post_init__(self) -> None:
        self.by_key = {(doc["kind"], doc["metadata"]["name"]): doc for doc in self.docs}

    def of_kind(self, kind: str) -> list[Doc]:
        return [doc for doc in self.docs if doc["kind"] == kind]

    def get(self, kind: str, name: str) -> Doc:
        return self.by_key[(kind, name)]

    def has(self, kind: str, name: str) -> bool:
        return (kind, name) in self.by_key

    def workloads(self) -> list[Doc]:
        return self.of_kind("Deployment") + self.of_kind("StatefulSet")

    def service_deployments(self) -> list[Doc]:
        """The Deployments of TixVibe's own code (HTTP services and the worker)."""
        return [
            doc
            for doc in self.of_kind("Deployment")
            if doc["metadata"]["labels"].get("app.kubernetes.io/component") in ("api", "worker")
        ]

    def config_map(self, generated_name: str) -> dict[str, str]:
        data: dict[str, str] = self.get("ConfigMap", generated_name).get("data", {})
        return data

    def container_env(self, workload: Doc, container: Doc) -> dict[str, EnvSource]:
        """Every variable the container gets, and where from (later sources win, as in k8s)."""
        found: dict[str, EnvSource] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                config = self.config_map(source["configMapRef"]["name"])
                for key, value in config.items():
                    found[key] = EnvSource(value=value)
            else:
                raise AssertionError(f"{workload['metadata']['name']}: envFrom only ConfigMaps")
        for variable in container.get("env", []):
            if "value" in variable:
                found[variable["name"]] = EnvSource(value=variable["value"])
            elif "secretKeyRef" in variable.get("valueFrom", {}):
                ref = variable["valueFrom"]["secretKeyRef"]
                found[variable["name"]] = EnvSource(
                    secret=(ref["name"], ref["key"]), optional=bool(ref.get("optional"))
                )
            else:
                found[variable["name"]] = EnvSource(value="<from the downward API>")
        return found


@dataclass(frozen=True)
class EnvSource:
    value: str | None = None
    secret: tuple[str, str] | None = None
    optional: bool = False


def pod_spec(workload: Doc) -> Doc:
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Doc) -> Iterator[Doc]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def app_container(workload: Doc) -> Doc:
    (container,) = [c for c in pod_spec(workload)["containers"] if c["name"] == "app"]
    found: Doc = container
    return found
