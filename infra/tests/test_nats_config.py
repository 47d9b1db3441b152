"""The NATS configuration every overlay renders is one the deployed server version loads."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from kube import VARIANTS, Manifests, pod_spec

from tixdev.servers import find_binary

_DURATION = re.compile(r"^\s*(lame_duck_duration|lame_duck_grace_period)\s*:\s*(\d+)s\s*$", re.M)
NATS_MIN_LAME_DUCK_SECONDS = 30  # nats-server refuses less


def nats_config(manifests: Manifests) -> str:
    (config,) = [
        doc
        for doc in manifests.of_kind("ConfigMap")
        if doc["metadata"]["name"].startswith("nats-config")
    ]
    text: str = config["data"]["nats.conf"]
    return text


def nats_image_minor(manifests: Manifests) -> tuple[int, int]:
    statefulset = manifests.get("StatefulSet", "nats")
    (container,) = pod_spec(statefulset)["containers"]
    match = re.fullmatch(r"nats:(\d+)\.(\d+)(?:\.\d+)?-alpine", container["image"])
    assert match, container["image"]
    return int(match[1]), int(match[2])


def server_minor() -> tuple[int, int]:
    output = subprocess.run(
        [find_binary("nats-server"), "--version"], check=True, capture_output=True, text=True
    ).stdout
    match = re.search(r"v(\d+)\.(\d+)\.\d+", output)
    assert match, output
    return int(match[1]), int(match[2])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_tested_nats_server_is_the_deployed_minor_version(
    rendered: dict[str, Manifests], variant: str
) -> None:
    assert server_minor() == nats_image_minor(rendered[variant])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_nats_config_loads_in_nats_server(
    rendered: dict[str, Manifests], variant: str, tmp_path: Path
) -> None:
    config = tmp_path / "nats.conf"
    config.write_text(nats_config(rendered[variant]))
    result = subprocess.run(
        [find_binary("nats-server"), "-t", "-c", str(config)],
        capture_output=True,
        text=True,
        env={**os.environ, "POD_NAME": "nats-0"},
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_lame_duck_mode_ends_within_the_grace_period(
    rendered: dict[str, Manifests], variant: str
) -> None:
    manifests = rendered[variant]
    durations = {name: int(seconds) for name, seconds in _DURATION.findall(nats_config(manifests))}
    assert durations["lame_duck_duration"] >= NATS_MIN_LAME_DUCK_SECONDS
    statefulset = manifests.get("StatefulSet", "nats")
    pre_stop = pod_spec(statefulset)["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    assert "ldm=/var/run/nats/nats.pid" in pre_stop
    needed = durations["lame_duck_grace_period"] + durations["lame_duck_duration"]
    # Room for the last clients to be closed and JetStream to flush after the eviction.
    assert pod_spec(statefulset)["terminationGracePeriodSeconds"] >= needed + 10
