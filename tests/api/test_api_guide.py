"""docs/using-the-api.md's examples run as written (curl and jq) against the running platform:
the page an integrator starts from cannot go stale."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tixtest.stack import RunningStack

GUIDE = Path(__file__).parents[2] / "docs" / "using-the-api.md"


def examples() -> str:
    return "\n".join(re.findall(r"```sh\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL))


def test_the_api_guides_examples_run_as_written(stack: RunningStack, tmp_path: Path) -> None:
    script = examples()
    assert script.count("curl") >= 10  # the page still shows the API

    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env={"PATH": os.environ["PATH"], "TIX": stack.gateway},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    shown = run.stdout
    assert "/api/tickets/{ticket_id}" in shown  # the merged document's paths
    assert '"message": "Title is required"' in shown
    assert re.search(r"(?im)^allow: GET, HEAD, OPTIONS, POST", shown)
    assert re.search(r"(?im)^idempotent-replayed: true", shown)
    assert '"title": "Haydn quartets by candlelight"' in shown
    assert '"quantity": 2' in shown
