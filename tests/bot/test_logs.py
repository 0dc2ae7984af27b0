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
