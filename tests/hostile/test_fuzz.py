"""Every service's HTTP API fuzzed from its own OpenAPI document (schemathesis), through the
gateway of the running platform, signed in: no 5xx, every response as documented (errors in the
contract's `{"errors": [...]}` shape), and no request that fails changes what the service owns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from pymongo import MongoClient
from schemathesis import GenerationMode, checks
from schemathesis.core.result import Ok

from tixtest.histories import REAL_SERVERS
from tixtest.stack import RunningStack

# What each fuzzed service owns (replicas change on their own, fed by events).
OWNED = {"auth": "users", "tickets": "tickets", "orders": "orders", "payments": "payments"}
PREFIX = {"auth": "/api/users", "tickets": "/api/tickets", "orders": "/api/orders",
          "payments": "/api/payments"}  # fmt: skip
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
Fingerprint = Callable[[], str]
EXAMPLES = 25  # per operation and mode: about 800 requests in all


@pytest.fixture(scope="session")
def mongo(stack: RunningStack) -> Iterator[MongoClient[Any]]:
    client: MongoClient[Any] = MongoClient(stack.state["mongo_url"])
    yield client
    client.close()


def fingerprint(mongo: MongoClient[Any], service: str) -> Fingerprint:
    collection = mongo[service][OWNED[service]]

    def digest() -> str:
        documents = collection.find({}, sort=[("_id", 1)])
        return hashlib.sha256(repr(list(documents)).encode()).hexdigest()

    return digest


def call_and_check(
    case: schemathesis.Case[Any], stack: RunningStack, session: dict[str, str], state: Fingerprint
) -> None:
    before = state() if case.method.upper() != "GET" else None
    response = case.call(base_url=stack.gateway, headers=session, timeout=15)
    case.validate_response(response, checks=CHECKS)
    if before is not None and response.status_code >= 400:
        assert state() == before, f"{case.method} {case.formatted_path} failed but changed state"


@pytest.mark.parametrize("service", list(OWNED))
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_api_answers_anything_as_documented_and_failures_change_nothing(
    service: str,
    mode: GenerationMode,
    stack: RunningStack,
    signed_in: dict[str, str],
    mongo: MongoClient[Any],
) -> None:
    schema = schemathesis.openapi.from_url(f"{stack.gateway}{PREFIX[service]}/openapi.json")
    state = fingerprint(mongo, service)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document itself is valid
        operations.append(result.ok())
    assert operations
    sent: list[str] = []
    for operation in operations:
        inputs = [operation.body, operation.path_parameters, operation.query]
        if mode is GenerationMode.NEGATIVE and not any(len(part) for part in inputs):
            continue  # nothing to get wrong

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            REAL_SERVERS,
            max_examples=EXAMPLES,
            suppress_health_check=[
                *REAL_SERVERS.suppress_health_check,
                HealthCheck.filter_too_much,
            ],
        )
        def fuzz(case: schemathesis.Case[Any]) -> None:
            call_and_check(case, stack, signed_in, state)
            sent.append(case.operation.label)

        try:
            fuzz()
        except Unsatisfiable:
            # Every value its schema allows is valid (a free-form string id, say): there is no
            # invalid input to send, and the positive run covered it.
            assert mode is GenerationMode.NEGATIVE
    # The suite really ran: most operations got many requests.
    assert len(sent) >= EXAMPLES, sent
