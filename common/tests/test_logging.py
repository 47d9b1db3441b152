from __future__ import annotations

import logging

import orjson

from tixcommon.logging import JsonFormatter, log_context


def test_log_lines_are_json_with_service_and_context() -> None:
    formatter = JsonFormatter("tickets")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.order_id = "abc"

    with log_context(request_id="r-1", subject="order.created"):
        line = orjson.loads(formatter.format(record))

    assert line["message"] == "hello world"
    assert line["service"] == "tickets"
    assert line["level"] == "info"
    assert line["request_id"] == "r-1"
    assert line["subject"] == "order.created"
    assert line["order_id"] == "abc"
