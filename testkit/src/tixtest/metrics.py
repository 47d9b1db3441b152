"""Reading this process's metrics in a test: a counter's value before and after what moves it."""

from __future__ import annotations

from prometheus_client import REGISTRY


def metric(name: str, **labels: str) -> float:
    """A sample's current value in this process (0 before it was first counted)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0
