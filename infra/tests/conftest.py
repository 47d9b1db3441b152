"""Every overlay is rendered once per run (kubectl kustomize, offline) and shared by the tests."""

from __future__ import annotations

import pytest
from kube import VARIANTS, Manifests, render


@pytest.fixture(scope="session")
def rendered() -> dict[str, Manifests]:
    return {name: Manifests(name, render(*parts)) for name, parts in VARIANTS.items()}


@pytest.fixture(scope="session")
def dev(rendered: dict[str, Manifests]) -> Manifests:
    return rendered["dev"]
