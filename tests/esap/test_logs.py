"""Structured logs: one JSON object per line, exceptions included."""
import json
import logging
import sys

from esap.logs import JsonFormatter


def test_a_log_record_is_one_json_line_with_its_exception():
    try:
        raise ValueError("hub said no")
    except ValueError:
        record = logging.LogRecord("esap.test", logging.ERROR, __file__, 1, "checkout %s failed", ("c-1",),
                                   sys.exc_info())

    line = JsonFormatter().format(record)

    entry = json.loads(line)
    assert "\n" not in line
    assert (entry["level"], entry["logger"], entry["message"]) == ("ERROR", "esap.test", "checkout c-1 failed")
    assert "ValueError: hub said no" in entry["exception"]
