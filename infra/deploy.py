"""Build, push and pin TixVibe's images for a cloud deployment (CI's deploy jobs run this).

    python infra/deploy.py images  --registry REG             the images and their tags, as JSON
    python infra/deploy.py build   --registry REG [--dry-run] build and push the missing ones
    python infra/deploy.py render  --registry REG --overlay infra/k8s/overlays/gke --out DIR

Each image is tagged with the commit that last changed what goes into it (the Dockerfile, the
lock, tixcommon, its own package), so a push to main rebuilds only the images it changed, and a
deployment names every image by an immutable commit SHA. The images and their build arguments
come from skaffold.yaml, the one list of artifacts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SKAFFOLD = ROOT / "skaffold.yaml"
# What every image is built from besides its own package (see the Dockerfile).
SHARED_INPUTS = (
    "Dockerfile",
    ".dockerignore",
    "pyproject.toml",
    "uv.lock",
    "common",
    ":(glob)**/pyproject.toml",
)


@dataclass(frozen=True)
class Image:
    name: str  # as in the manifests: tixvibe/tickets
    package: str
    package_dir: str
    tag: str

    def ref(self, registry: str) -> str:
        return f"{registry}/{self.short_name}:{self.tag}"

    @property
    def short_name(self) -> str:
        return self.name.rsplit("/", 1)[-1]


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True)
    return result.stdout.strip()


def images() -> list[Image]:
    config = yaml.safe_load(SKAFFOLD.read_text())
    found = []
    for artifact in config["build"]["artifacts"]:
        build_args = artifact["docker"]["buildArgs"]
        package_dir = build_args["PACKAGE_DIR"]
        tag = _git("log", "-1", "--format=%H", "--", *SHARED_INPUTS, package_dir)
        if not tag:
            raise SystemExit(f"no commit touches {package_dir}: is this a full clone?")
        found.append(Image(artifact["image"], build_args["PACKAGE"], package_dir, tag))
    return found


def _run(command: list[str], *, dry_run: bool) -> int:
    print("+", " ".join(command), flush=True)  # noqa: T201 - a CI log
    if dry_run:
        return 0
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def build_command(
    image: Image, ref: str, *, engine: str = "docker", ca_bundle: Path | None = None
) -> list[str]:
    """How every image is built (skaffold.yaml passes the same two arguments). `ca_bundle`: a
    TLS-inspecting proxy's CA for the build's downloads, as a secret no layer keeps."""
    command = [
        engine, "build",
        "--build-arg", f"PACKAGE={image.package}",
        "--build-arg", f"PACKAGE_DIR={image.package_dir}",
        "--tag", ref,
    ]  # fmt: skip
    if ca_bundle is not None:
        command += ["--secret", f"id=ca-certificates,src={ca_bundle}"]
    return [*command, "."]


def build(registry: str, *, dry_run: bool, ca_bundle: Path | None = None) -> None:
    for image in images():
        ref = image.ref(registry)
        exists = not dry_run and (
            subprocess.run(
                ["docker", "manifest", "inspect", ref], capture_output=True, check=False
            ).returncode
            == 0
        )
        if exists:
            print(f"{ref} is already in the registry")  # noqa: T201 - a CI log
            continue
        command = build_command(image, ref, ca_bundle=ca_bundle)
        if _run(command, dry_run=dry_run) or _run(["docker", "push", ref], dry_run=dry_run):
            raise SystemExit(f"building {ref} failed")


def render(registry: str, overlay: Path, out: Path) -> Path:
    """A kustomization of the overlay with every image pinned; `kubectl apply -k out`."""
    out.mkdir(parents=True, exist_ok=True)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(overlay.resolve(), out.resolve())],
        "images": [
            {"name": image.name, "newName": f"{registry}/{image.short_name}", "newTag": image.tag}
            for image in images()
        ],
    }
    path = out / "kustomization.yaml"
    path.write_text(yaml.safe_dump(kustomization, sort_keys=False))
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("images", "build", "render"):
        command = commands.add_parser(name)
        command.add_argument("--registry", required=True, help="e.g. REGION-docker.pkg.dev/P/R")
        if name == "build":
            command.add_argument("--dry-run", action="store_true")
            command.add_argument(
                "--ca-bundle",
                type=Path,
                help="behind a TLS-inspecting proxy: its CA bundle, given to the build as a secret",
            )
        if name == "render":
            command.add_argument("--overlay", type=Path, required=True)
            command.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    registry = args.registry.rstrip("/")
    if args.command == "images":
        listing = [dict(vars(image), ref=image.ref(registry)) for image in images()]
        json.dump(listing, sys.stdout, indent=2)
        print()  # noqa: T201
    elif args.command == "build":
        build(registry, dry_run=args.dry_run, ca_bundle=args.ca_bundle)
    else:
        print(render(registry, args.overlay, args.out))  # noqa: T201


if __name__ == "__main__":
    main()
