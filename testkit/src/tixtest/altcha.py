"""ALTCHA's proof of work solved as its widget solves it, for tests that join a waiting room."""

from __future__ import annotations

import base64
import json
from typing import Any

from altcha.v1 import Challenge, solve_challenge


def solved(challenge: dict[str, Any]) -> str:
    """What the widget posts once it has solved a challenge of ALTCHA's v1 format (as the room
    hands it out, `maxnumber` spelled as its JavaScript library spells it): the challenge's
    fields and the number found, as base64 JSON."""
    solution = solve_challenge(
        Challenge(
            challenge["algorithm"],
            challenge["challenge"],
            challenge["maxnumber"],
            challenge["salt"],
            challenge["signature"],
        )
    )
    assert solution is not None, challenge
    payload = {key: value for key, value in challenge.items() if key != "maxnumber"}
    return base64.b64encode(json.dumps({**payload, "number": solution.number}).encode()).decode()
