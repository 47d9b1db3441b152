"""Methods a path does not declare: 405 with `Allow` (RFC 9110), OPTIONS answered with
`Allow`, and HEAD answered wherever GET is, without the body."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize("method", ["DELETE", "PUT", "TRACE", "PATCH", "QUERY"])
async def test_an_undeclared_method_is_405_naming_the_methods_allowed(
    demo: httpx.AsyncClient, method: str
) -> None:
    response = await demo.request(method, "/api/demo/business")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert response.json() == {"errors": [{"message": "Method not allowed"}]}


async def test_allow_lists_only_what_the_path_answers(demo: httpx.AsyncClient) -> None:
    response = await demo.get("/api/demo/gadgets")

    assert response.status_code == 405
    assert response.headers["allow"] == "OPTIONS, POST"


async def test_options_answers_with_the_methods_allowed(demo: httpx.AsyncClient) -> None:
    response = await demo.options("/api/demo/gadgets/")

    assert response.status_code == 204
    assert response.headers["allow"] == "OPTIONS, POST"
    assert response.content == b""
    assert response.headers["x-request-id"]


async def test_head_answers_as_get_without_the_body(demo: httpx.AsyncClient) -> None:
    got = await demo.get("/api/demo/business")
    head = await demo.head("/api/demo/business")

    assert head.status_code == got.status_code == 400
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]
    assert head.headers["x-request-id"]


async def test_head_is_405_where_get_is_not_answered(demo: httpx.AsyncClient) -> None:
    response = await demo.head("/api/demo/gadgets")

    assert response.status_code == 405
    assert response.headers["allow"] == "OPTIONS, POST"
    assert response.content == b""
