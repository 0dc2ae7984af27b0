"""Logs never carry a person's CPF/CNPJ, whoever formats the message."""

from __future__ import annotations

import logging

from bot.logs import MaskDocuments


def test_documents_are_masked_in_log_records():
    record = logging.LogRecord(
        "aprova", logging.INFO, __file__, 1, "vendor %s paid by %s", ("529.982.247-25", "11222333000181"), None
    )
    assert MaskDocuments().filter(record)
    message = record.getMessage()
    assert "529.982.247-25" not in message and "11222333000181" not in message
    assert "***.982.247-**" in message


def test_plain_messages_are_left_alone():
    record = logging.LogRecord("aprova", logging.INFO, __file__, 1, "request %s posted", ("PAG-2026-000001",), None)
    MaskDocuments().filter(record)
    assert record.getMessage() == "request PAG-2026-000001 posted"


def test_json_lines_carry_the_reference_and_mask_traces():
    import json

    from bot.logs import JsonLines

    try:
        raise ValueError("vendor 529.982.247-25 refused")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "ledger.outbox", logging.WARNING, __file__, 1, "posting %s failed", ("PAG-2026-000042",), exc_info
    )
    line = JsonLines().format(record)
    assert "\n" not in line
    event = json.loads(line)
    assert (event["level"], event["logger"], event["msg"], event["ref"]) == (
        "WARNING",
        "ledger.outbox",
        "posting PAG-2026-000042 failed",
        "PAG-2026-000042",
    )
    assert "ValueError" in event["exc"] and "529.982.247-25" not in event["exc"]
    assert event["ts"].endswith("+00:00")
