"""The web client depends on tixcommon's web edge only: its image installs tixcommon without the
`service` extra, so importing a database or broker driver would fail there at start."""

from __future__ import annotations

import subprocess
import sys

SERVICE_ONLY = ("beanie", "pymongo", "bson", "nats")

PROBE = f"""
import importlib.abc, sys

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {SERVICE_ONLY!r}:
            raise ImportError("the client must not import " + name)

sys.meta_path.insert(0, Refuse())
import webclient.__main__, webclient.app
"""


def test_the_client_imports_no_database_or_broker_driver() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
