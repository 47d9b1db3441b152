"""Whatever goes wrong, the answer has the contract's error shape and status."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from tixcommon.middleware import new_request_id
from tixtest import SignedInUser


async def test_unknown_route_is_404_not_found(demo: httpx.AsyncClient) -> None:
    response = await demo.get("/api/demo/nothing-here")

    assert response.status_code == 404
    assert response.json() == {"errors": [{"message": "Not Found"}]}


async def test_wrong_method_has_error_body(demo: httpx.AsyncClient) -> None:
    response = await demo.delete("/api/demo/business")

    assert response.status_code == 405
    assert response.json() == {"errors": [{"message": "Method not allowed"}]}


async def test_business_rule_is_400_with_its_message(demo: httpx.AsyncClient) -> None:
    response = await demo.get("/api/demo/business")

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "Cannot edit a reserved ticket"}]}


async def test_unexpected_error_is_500_without_internals(
    demo: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await demo.get("/api/demo/crash", headers={"X-Request-Id": "req-crash-1"})

    assert response.status_code == 500
    assert response.json() == {"errors": [{"message": "Something went wrong"}]}
    assert "hunter2" not in response.text
    assert response.headers["x-request-id"] == "req-crash-1"
    logged = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert logged
    assert logged[0].exc_info is not None


async def test_unreachable_dependency_is_503(demo: httpx.AsyncClient) -> None:
    response = await demo.get("/api/demo/database-down")

    assert response.status_code == 503
    assert response.json() == {"errors": [{"message": "Service unavailable, try again shortly"}]}


async def test_validation_failure_lists_each_field(
    demo: httpx.AsyncClient, make_user: Callable[..., SignedInUser]
) -> None:
    user = make_user()

    response = await demo.post(
        "/api/demo/gadgets", json={"title": "", "price": -1}, headers=user.headers
    )

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [error["field"] for error in errors] == ["title", "price"]
    assert all(error["message"] for error in errors)


async def test_malformed_json_is_400(
    demo: httpx.AsyncClient, make_user: Callable[..., SignedInUser]
) -> None:
    response = await demo.post(
        "/api/demo/echo",
        content=b'{"title": ',
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "Malformed JSON in request body"}]}


async def test_body_that_is_not_an_object_is_400(demo: httpx.AsyncClient) -> None:
    response = await demo.post("/api/demo/echo", json=[1, 2, 3])

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"]


async def test_malformed_id_in_path_is_400_with_field(demo: httpx.AsyncClient) -> None:
    response = await demo.get("/api/demo/gadgets/not-an-id")

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "id must be a valid id", "field": "id"}]}


async def test_missing_resource_is_404(demo: httpx.AsyncClient) -> None:
    response = await demo.get("/api/demo/gadgets/" + "a" * 24)

    assert response.status_code == 404
    assert response.json() == {"errors": [{"message": "Not Found"}]}


async def test_unauthenticated_is_401(demo: httpx.AsyncClient) -> None:
    response = await demo.post("/api/demo/gadgets", json={"title": "x", "price": 1})

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "Not authorized"}]}


async def test_declared_oversized_body_is_refused_with_413(demo: httpx.AsyncClient) -> None:
    response = await demo.post(
        "/api/demo/echo",
        content=b"{}" + b" " * (1024 * 1024),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json() == {"errors": [{"message": "Request body is too large"}]}


async def test_streamed_oversized_body_is_refused_with_413(demo: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * (64 * 1024)

    response = await demo.post(
        "/api/demo/echo", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json() == {"errors": [{"message": "Request body is too large"}]}


async def test_request_id_is_echoed_or_generated(demo: httpx.AsyncClient) -> None:
    given = await demo.get("/healthz", headers={"X-Request-Id": "abc-123"})
    generated = await demo.get("/healthz")
    hostile = await demo.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})

    assert given.headers["x-request-id"] == "abc-123"
    assert len(generated.headers["x-request-id"]) == 32
    assert hostile.headers["x-request-id"] != "bad id\twith spaces"


def test_generated_request_ids_are_distinct_uuid4s() -> None:
    generated = [new_request_id() for _ in range(10_000)]

    assert len(set(generated)) == len(generated)
    for request_id in generated:
        as_uuid = uuid.UUID(hex=request_id)
        assert (as_uuid.version, as_uuid.variant, as_uuid.hex) == (4, uuid.RFC_4122, request_id)


async def test_error_responses_carry_request_id(demo: httpx.AsyncClient) -> None:
    response = await demo.get("/api/demo/nothing", headers={"X-Request-Id": "trace-404"})

    assert response.headers["x-request-id"] == "trace-404"


async def test_paths_ignore_case_and_trailing_slash(demo: httpx.AsyncClient) -> None:
    response = await demo.get("/API/Demo/Business/")

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "Cannot edit a reserved ticket"}]}
