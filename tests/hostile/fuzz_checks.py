"""Our two rules for schemathesis' run (loaded by `SCHEMATHESIS_HOOKS`), beside all its own.

- A request the document calls valid is accepted, or refused only as the operation documents:
  a status it lists, and for a 400 only the reasons it gives as examples (a rule no schema can
  state: an email in use, seats taken). Stricter than schemathesis' `positive_data_acceptance`,
  which this replaces: that one cannot tell a documented refusal from an undocumented rule.
- A request that fails changes nothing the service owns (its collection is fingerprinted
  before each request that may write, and compared after a failure).

The service is named by `TIX_FUZZ_MONGO` (its database's URL), `TIX_FUZZ_DATABASE` and
`TIX_FUZZ_COLLECTION`.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

import schemathesis
from pymongo import MongoClient

_mongo: MongoClient[Any] = MongoClient(os.environ["TIX_FUZZ_MONGO"])
_owned = _mongo[os.environ["TIX_FUZZ_DATABASE"]][os.environ["TIX_FUZZ_COLLECTION"]]
_before: dict[int, str] = {}
_changed_by_failure: set[int] = set()


def _fingerprint() -> str:
    documents = _owned.find({}, sort=[("_id", 1)])
    return hashlib.sha256(repr(list(documents)).encode()).hexdigest()


@schemathesis.hook
def before_call(context: Any, case: schemathesis.Case[Any], kwargs: dict[str, Any]) -> None:
    if case.method.upper() not in {"GET", "HEAD", "OPTIONS"}:
        _before[id(case)] = _fingerprint()


@schemathesis.hook
def after_call(context: Any, case: schemathesis.Case[Any], response: Any) -> None:
    before = _before.pop(id(case), None)
    if before is not None and response.status_code >= 400 and _fingerprint() != before:
        _changed_by_failure.add(id(case))


@schemathesis.check
def failures_change_nothing(ctx: Any, response: Any, case: schemathesis.Case[Any]) -> None:
    if id(case) in _changed_by_failure:
        raise AssertionError(f"{case.method} {case.formatted_path} failed but changed state")


def _shape(item: dict[str, Any]) -> tuple[str, Any]:
    # A count in a message ("the 3 seats already held") is the example's, not a rule's.
    return re.sub(r"\d+", "N", str(item.get("message"))), item.get("field")


@schemathesis.check
def refused_only_as_documented(ctx: Any, response: Any, case: schemathesis.Case[Any]) -> None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code < 400:
        return
    if response.status_code >= 500:
        return  # not_a_server_error's to judge
    responses = case.operation.definition.raw.get("responses", {})
    documented = responses.get(str(response.status_code))
    assert documented is not None, "a valid request refused with an undocumented status"
    if response.status_code != 400:
        return
    media = documented.get("content", {}).get("application/json", {})
    reasons = {
        _shape(item)
        for example in media.get("examples", {}).values()
        for item in example["value"]["errors"]
    }
    given = [_shape(item) for item in response.json()["errors"]]
    unexplained = [item for item in given if item not in reasons]
    assert not unexplained, f"a valid request refused for an undocumented reason: {unexplained}"
