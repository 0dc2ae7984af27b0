"""Logs never carry a person's CPF/CNPJ, whoever formats the message; nobody pays for lines nobody writes."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import MaskDocuments, configure_logging, log_handler


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


def _log_through(log_format: str, emit: Callable[[logging.Logger], None]) -> str:
    """What Aprova's own handler writes for the events ``emit`` logs."""
    stream = io.StringIO()
    logger = logging.getLogger(f"aprova.test.{log_format}")
    logger.propagate, logger.level = False, logging.DEBUG
    handler = log_handler(log_format, stream)
    logger.addHandler(handler)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def _fail_with_documents(logger: logging.Logger) -> None:
    try:
        raise ValueError("vendor 529.982.247-25 (11.222.333/0001-81) refused")
    except ValueError:
        logger.exception("posting %s failed", "PAG-2026-000042")
    logger.warning("paying 529.982.247-25 from here", stack_info=True)  # the stack quotes this very line


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_traces_are_masked_in_every_format(log_format):
    written = _log_through(log_format, _fail_with_documents)
    assert "ValueError" in written and "PAG-2026-000042" in written
    assert "529.982.247-25" not in written and "11.222.333/0001-81" not in written
    assert "***.982.247-**" in written and "11.222.333/****-**" in written


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_line_breaks_in_logged_values_cannot_forge_a_line(log_format):
    forged = "Moinho\r\n2026-11-25 12:00:00 INFO bot.posting request PAG-2026-000099 posted"
    written = _log_through(log_format, lambda logger: logger.info("vendor %s refused", forged))
    assert written.count("\n") == 1 and "\r" not in written
    assert "Moinho\\r\\n2026-11-25" in written.replace("\\\\", "\\")


def test_url_encoded_documents_in_request_logs_are_masked():
    """httpx logs the URL it called, where ``/`` travels as ``%2F`` (a search by CNPJ)."""
    url = "http://127.0.0.1:8090/v1/pessoas?documentos=11.222.333%2F0001-81&nome=Jos%C3%A9%20529.982.247-25"
    written = _log_through(
        "json",
        lambda logger: logger.info('HTTP Request: %s %s "%s %d %s"', "GET", httpx.URL(url), "HTTP/1.1", 200, "OK"),
    )
    assert "0001-81" not in written and "%2F0001" not in written and "247-25" not in written
    assert "11.222.333/****-**" in written


def test_a_malformed_log_call_never_breaks_the_caller():
    record = logging.LogRecord("aprova", logging.INFO, __file__, 1, "two %s %s", ("only one",), None)
    assert MaskDocuments().filter(record)


def test_slack_clients_do_not_format_debug_text_nobody_writes():
    """slack_sdk's Web API clients build the DEBUG text of every request and answer (the whole message, blocks and
    all) when their own logger's level is unset; Aprova sets it."""
    names = ("", "slack_sdk", "slack_sdk.web.async_base_client", "slack_sdk.web.base_client", "apscheduler.executors")
    levels = {name: logging.getLogger(name).level for name in names}
    filters = {handler: list(handler.filters) for handler in logging.getLogger().handlers}
    try:
        configure_logging("INFO")
        client = AsyncWebClient(token="xoxb-test")
        assert client.logger.level > logging.DEBUG  # what the client itself tests before formatting
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        for handler, kept in filters.items():
            handler.filters[:] = kept
