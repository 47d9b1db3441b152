"""How `tix dev` configures the processes it runs."""

from __future__ import annotations

from tixdev.stack import service_overrides


def test_one_process_can_get_its_own_settings() -> None:
    environ = {
        "TIX_ORDERS__NATS_URL": "nats://elsewhere:4222",
        "TIX_EXP_WORKER__LOG_LEVEL": "DEBUG",
        "NATS_URL": "nats://everyone:4222",
    }
    assert service_overrides("orders", environ) == {"NATS_URL": "nats://elsewhere:4222"}
    assert service_overrides("exp-worker", environ) == {"LOG_LEVEL": "DEBUG"}
    assert service_overrides("tickets", environ) == {}
