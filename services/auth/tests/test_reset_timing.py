"""No account enumeration by timing: asking a reset for an address with an account and for one
without is answered in the same time, within the noise between two sets of known addresses.

Requests of the three groups are interleaved at random, so whatever else the machine does
lands on all of them alike; a permutation test then asks whether the unknown addresses' times
could be told apart from the known ones' (the known-against-known comparison is the noise)."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from auth.app import create_app
from auth.settings import AuthSettings
from tixcommon.settings import load_settings
from tixtest import serve_app

SAMPLES = 80  # per group
PERMUTATIONS = 2000
# Below this, the difference would be a real one (a chance of 1 in 1,000 under no difference).
SIGNIFICANCE = 0.001


@pytest.fixture
async def http(
    auth_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("PASSWORD_RESET_MAX_PER_ADDRESS", str(10 * SAMPLES))
    async with serve_app(create_app(load_settings(AuthSettings))) as client:
        yield client


def median_gap(a: list[float], b: list[float]) -> float:
    return abs(statistics.median(a) - statistics.median(b))


def permutation_p(a: list[float], b: list[float], rng: random.Random) -> float:
    """How often labels shuffled at random give a median gap at least the observed one."""
    observed = median_gap(a, b)
    pooled = a + b
    hits = 0
    for _ in range(PERMUTATIONS):
        rng.shuffle(pooled)
        if median_gap(pooled[: len(a)], pooled[len(a) :]) >= observed:
            hits += 1
    return (hits + 1) / (PERMUTATIONS + 1)


async def test_known_and_unknown_addresses_are_answered_in_the_same_time(
    http: httpx.AsyncClient,
) -> None:
    known = [f"known{n}@example.com" for n in range(2 * SAMPLES)]
    for email in known:
        signup = await http.post("/api/users/signup", json={"email": email, "password": "pw123456"})
        assert signup.status_code == 201
    http.cookies.clear()
    groups = {
        "known": known[:SAMPLES],
        "other known": known[SAMPLES:],
        "unknown": [f"nobody{n}@example.com" for n in range(SAMPLES)],
    }
    rng = random.Random(33)
    asks = [(group, email) for group, emails in groups.items() for email in emails]
    rng.shuffle(asks)
    times: dict[str, list[float]] = {group: [] for group in groups}
    for group, email in asks:
        began = time.perf_counter()
        response = await http.post("/api/users/password-reset", json={"email": email})
        times[group].append(time.perf_counter() - began)
        assert (response.status_code, response.json()) == (202, {})

    noise = median_gap(times["known"], times["other known"])
    gap = median_gap(times["known"] + times["other known"], times["unknown"])
    p = permutation_p(times["known"] + times["other known"], times["unknown"], rng)
    summary = (
        f"median known {statistics.median(times['known']) * 1e3:.2f} ms, unknown "
        f"{statistics.median(times['unknown']) * 1e3:.2f} ms; gap {gap * 1e6:.0f} us, noise "
        f"between known sets {noise * 1e6:.0f} us, p = {p:.3f}"
    )
    assert p > SIGNIFICANCE, summary
