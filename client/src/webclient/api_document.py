"""The platform's API in one OpenAPI document, at /api/openapi.json behind the router.

Each service serves its own document under its prefix; this merges them, so that an integrator
reads, or generates a client from, one document for the one address they call. Kept for a
minute: a deploy that changes a service's API shows within one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from tixcommon.platform_document import merged_document
from tixcommon.route_table import DOCUMENT_PREFIXES
from webclient.api import Backend

DOCUMENT_PATH = "/api/openapi.json"
FRESH_FOR_SECONDS = 60.0

router = APIRouter(include_in_schema=False)


@dataclass
class KeptDocument:
    body: bytes = b""
    made_at: float = field(default=-FRESH_FOR_SECONDS)

    def fresh(self) -> bool:
        return time.monotonic() - self.made_at < FRESH_FOR_SECONDS


async def _service_documents(backend: Backend) -> dict[str, dict[str, Any]]:
    documents = {}
    for service, prefix in DOCUMENT_PREFIXES.items():
        response = await backend.http.get(backend.url(f"{prefix}/openapi.json"))
        response.raise_for_status()
        documents[service] = response.json()
    return documents


@router.get(DOCUMENT_PATH)
async def platform_document(request: Request) -> Response:
    kept: KeptDocument = request.app.state.api_document
    if not kept.fresh():
        try:
            documents = await _service_documents(request.app.state.backend)
        except (httpx.HTTPError, ValueError):
            unavailable = {"errors": [{"message": "The API document is unavailable, try again"}]}
            return JSONResponse(unavailable, status_code=503, headers={"Retry-After": "5"})
        kept.body = json.dumps(merged_document("TixVibe", documents)).encode()
        kept.made_at = time.monotonic()
    return Response(kept.body, media_type="application/json")
