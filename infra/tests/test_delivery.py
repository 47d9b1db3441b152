"""How TixVibe ships: the GitHub workflows, skaffold.yaml and the deploy script."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube import K8S, ROOT, kubectl
from test_images import artifacts, workspace_members

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
SHA_PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text())
    return data


def triggers(workflow: dict[Any, Any]) -> Any:
    # YAML 1.1 (PyYAML) reads the key `on` as True.
    return workflow.get("on", workflow.get(True))


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_there_are_pull_request_and_deploy_workflows() -> None:
    names = {path.name for path in WORKFLOWS}
    assert {"ci.yml", "deploy.yml"} <= names


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_workflow_matches_the_github_schema(workflow: Path) -> None:
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", workflow],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_workflow_passes_actionlint() -> None:
    result = subprocess.run(
        [BIN / "actionlint", "-no-color", *WORKFLOWS],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_and_permissions_are_least(workflow: Path) -> None:
    data = load(workflow)
    for step in steps(data):
        if "uses" in step:
            assert SHA_PINNED.match(step["uses"]), step["uses"]
            if step["uses"].startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
    assert data["permissions"] == {"contents": "read"}
    assert "group" in data["concurrency"]
    for name, job in data["jobs"].items():
        assert "timeout-minutes" in job, name
        granted = job.get("permissions", {})
        assert all(v in ("read", "none") for k, v in granted.items() if k != "id-token"), name
        if granted.get("id-token") == "write":
            # Only the cloud deploy jobs sign in through OIDC, and only after the tests.
            assert name in ("gke", "eks"), name
            assert job["needs"] == "test", name


def test_pull_requests_check_every_part_a_change_touches() -> None:
    ci = load(ROOT / ".github" / "workflows" / "ci.yml")
    assert set(triggers(ci)) == {"pull_request"}
    (filter_step,) = [s for s in steps(ci) if s.get("uses", "").startswith("dorny/paths-filter")]
    filters = yaml.safe_load(filter_step["with"]["filters"])
    # Every package with tests has its own filter; a change to tixcommon checks everything.
    members = [m for m in workspace_members() if m != "common"]
    for member in members:
        assert member in filters, member
        assert any(fnmatch(f"{member}/src/x.py", pattern) for pattern in filters[member])
    assert "common/**" in filters["everything"]
    assert "uv.lock" in filters["everything"]
    (parts_step,) = [s for s in steps(ci) if s.get("id") == "parts"]
    for part in [*workspace_members(), "tests"]:
        assert f'"{part}"' in parts_step["run"], part
    check = ci["jobs"]["check"]["steps"][-1]["run"]
    assert "scripts/check-package" in check
    assert (ROOT / "scripts" / "check-package").stat().st_mode & 0o111
    # The manifests are rendered and validated on every pull request.
    manifests = ci["jobs"]["manifests"]
    assert "if" not in manifests
    assert "scripts/check-package infra" in manifests["steps"][-1]["run"]
    # So are the images: built, started and driven through a purchase.
    images = ci["jobs"]["images"]
    assert "if" not in images
    assert "make images" in images["steps"][-1]["run"]
    assert "make images" in (ROOT / ".ci" / "run").read_text()


def test_main_is_tested_then_deployed_to_both_clouds() -> None:
    deploy = load(ROOT / ".github" / "workflows" / "deploy.yml")
    assert triggers(deploy) == {"push": {"branches": ["main"]}}
    assert "bash .ci/run" in deploy["jobs"]["test"]["steps"][-1]["run"]
    for cloud in ("gke", "eks"):
        job = deploy["jobs"][cloud]
        runs = "\n".join(step.get("run", "") for step in job["steps"])
        assert "infra/deploy.py build" in runs
        assert f"--overlay infra/k8s/overlays/{cloud}" in runs
        assert "infra/rollout" in runs
        assert job["concurrency"]["cancel-in-progress"] is False
        checkout = job["steps"][0]
        assert checkout["with"]["fetch-depth"] == 0  # tags come from history
        uses = " ".join(step.get("uses", "") for step in job["steps"])
        text = json.dumps(job)
        # No long-lived keys: OIDC only.
        assert "credentials_json" not in text
        assert "aws-secret-access-key" not in text
        assert "secrets." not in text
        if cloud == "gke":
            assert "google-github-actions/auth@" in uses
            assert "workload_identity_provider" in text
        else:
            assert "configure-aws-credentials@" in uses
            assert "role-to-assume" in text


def test_skaffold_yaml_matches_the_schema_kept_in_the_repo() -> None:
    result = subprocess.run(
        [BIN / "check-jsonschema", "--schemafile",
         ROOT / "infra" / "schemas" / "skaffold-v4beta14.subset.json", ROOT / "skaffold.yaml"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_skaffold_builds_every_image_the_manifests_use_and_syncs_real_sources() -> None:
    config = load(ROOT / "skaffold.yaml")
    assert config["build"]["local"]["push"] is False
    assert config["manifests"]["kustomize"]["paths"] == ["infra/k8s/overlays/dev"]
    built = {a["image"] for a in artifacts()}
    rendered = subprocess.run(
        [kubectl(), "kustomize", K8S / "overlays" / "dev"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    ours = {i for i in re.findall(r"image: (\S+)", rendered) if i.startswith("tixvibe/")}
    assert ours == built
    for artifact in config["build"]["artifacts"]:
        for rule in artifact["sync"]["manual"]:
            matched = list((ROOT / artifact["context"]).glob(rule["src"]))
            assert matched, rule
            # Synced to where the image keeps them (WORKDIR /app mirrors the repository).
            assert rule["dest"] == "/app"
            assert "strip" not in rule
    profiles = {p["name"]: p for p in config["profiles"]}
    for cloud in ("gke", "eks"):
        (path,) = profiles[cloud]["manifests"]["kustomize"]["paths"]
        assert path == f"infra/k8s/overlays/{cloud}"
        assert (ROOT / path).is_dir()
        assert profiles[cloud]["build"]["local"]["push"] is True
    forward = config["portForward"][0]
    assert (forward["resourceName"], forward["namespace"]) == (
        "ingress-nginx-controller",
        "ingress-nginx",
    )


def _deploy(*args: str) -> str:
    return subprocess.run(
        [sys.executable, ROOT / "infra" / "deploy.py", *args],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout  # fmt: skip


def test_deploy_pins_every_image_to_the_commit_that_last_changed_it(tmp_path: Path) -> None:
    registry = "europe-docker.pkg.dev/project/tixvibe"
    listed = json.loads(_deploy("images", "--registry", registry))
    assert {image["name"] for image in listed} == {a["image"] for a in artifacts()}
    for image in listed:
        assert re.fullmatch(r"[0-9a-f]{40}", image["tag"])
        own_last_change = subprocess.run(
            ["git", "log", "-1", "--format=%H", "--", image["package_dir"]],
            capture_output=True, text=True, check=True, cwd=ROOT,
        ).stdout.strip()  # fmt: skip
        # The tag is a commit of main's history that includes the package's last change.
        for ancestor, descendant in ((own_last_change, image["tag"]), (image["tag"], "HEAD")):
            subprocess.run(
                ["git", "merge-base", "--is-ancestor", ancestor, descendant], cwd=ROOT, check=True
            )
    out = K8S / f".render-{tmp_path.name}"
    try:
        _deploy("render", "--registry", registry, "--overlay", str(K8S / "overlays" / "gke"),
                "--out", str(out))  # fmt: skip
        rendered = subprocess.run(
            [kubectl(), "kustomize", out], capture_output=True, text=True, check=True
        ).stdout
    finally:
        for path in sorted(out.rglob("*"), reverse=True):
            path.unlink()
        out.rmdir()
    images = set(re.findall(r"image: (\S+)", rendered))
    ours = {i for i in images if i.startswith(registry)}
    assert {i.split(":")[0].rsplit("/", 1)[-1] for i in ours} == {a["PACKAGE"] for a in artifacts()}
    assert all(re.search(r":[0-9a-f]{40}$", i) for i in ours)
    assert not [i for i in images if i.startswith("tixvibe/")]


def test_deploy_builds_each_image_with_its_package_arguments() -> None:
    printed = _deploy("build", "--registry", "registry.example/tixvibe", "--dry-run")
    for artifact in artifacts():
        assert (
            f"--build-arg PACKAGE={artifact['PACKAGE']} "
            f"--build-arg PACKAGE_DIR={artifact['PACKAGE_DIR']}"
        ) in printed
    assert printed.count("docker push") == len(artifacts())
