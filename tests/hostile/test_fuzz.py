"""Every service's HTTP API fuzzed from its own OpenAPI document by schemathesis' own engine, as
an integrator would run it (`st run`, every phase that applies and every check), through the
gateway of the running platform, signed in.

Every check passes: no 5xx; statuses, content types, headers and bodies as documented; a request
the document calls invalid refused; undeclared methods a 405 with a true `Allow`; a missing
required header refused; protected routes refusing a missing or bad session. Plus ours
(fuzz_checks.py): a request the document calls valid is accepted or refused only as documented,
and a request that fails changes nothing the service owns.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tixtest.stack import RunningStack

# The path of each service's API, and the database and collection of what it owns (replicas
# change on their own, fed by events).
SERVICES = {
    "auth": ("/api/users", "users"),
    "tickets": ("/api/tickets", "tickets"),
    "orders": ("/api/orders", "orders"),
    "payments": ("/api/payments", "payments"),
}
EXAMPLES = 25  # per operation, mode and phase: some 1,500 requests in all
CHECKS = Path(__file__).with_name("fuzz_checks.py")
SCHEMATHESIS = Path(sys.executable).with_name("st")


@pytest.mark.parametrize("service", list(SERVICES))
def test_api_passes_every_check_and_failures_change_nothing(
    service: str, stack: RunningStack, signed_in: dict[str, str], tmp_path: Path
) -> None:
    prefix, collection = SERVICES[service]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(CHECKS),
        "TIX_FUZZ_MONGO": stack.state["mongo_url"],
        "TIX_FUZZ_DATABASE": service,
        "TIX_FUZZ_COLLECTION": collection,
    }
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{stack.gateway}{prefix}/openapi.json",
        "--checks=all",
        # Replaced by fuzz_checks.refused_only_as_documented, which reads the documented reasons.
        "--exclude-checks=positive_data_acceptance",
        f"--max-examples={EXAMPLES}",
        # One at a time: the state check compares what the service owns before and after.
        "--workers=1",
        "--request-timeout=15",
        "--no-color",
        *(f"--header={name}: {value}" for name, value in signed_in.items()),
    ]
    run = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-8000:]
    # The run really ran: the document was read and many requests were checked.
    generated = re.search(r"(\d+) generated, \1 passed", report)
    assert generated is not None, report[-4000:]
    assert int(generated.group(1)) >= 4 * EXAMPLES, report[-4000:]
