"""Logging set-up: one line per event, CPF/CNPJ masked wherever they appear, traces included."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

from ledger.validation import mask_document

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]

_LINE_BREAKS = str.maketrans({"\r": "\\r", "\n": "\\n"})


class MaskDocuments(logging.Filter):
    """People's tax ids never reach the log, whoever formatted the message or the trace; and a logged value that
    carries CR/LF (a name, a header) cannot start a forged line of its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: logging reports it when formatting; never fail the caller here
            return True
        cleaned = mask_document(message).translate(_LINE_BREAKS)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse a cached trace: cache the masked one, so every handler and format writes only that.
            record.exc_text = _TRACES.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_document(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_document(record.stack_info)
        return True


class TextLines(logging.Formatter):
    """``LOG_FORMAT=text``, for a person at a terminal: the message on one line, the trace below it, both masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatException(self, ei: ExcInfo) -> str:
        return mask_document(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return mask_document(super().formatStack(stack_info))


_TRACES = TextLines()
REFERENCE = re.compile(r"\b(?:PAG|REC)-\d{4}-\d{6}\b")


class JsonLines(logging.Formatter):
    """One JSON object per line — ``ts``, ``level``, ``logger``, ``msg``, the request ``ref`` when the event names
    one, and ``exc`` for a trace — so a log platform can search and count events."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        event: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": message,
        }
        found = REFERENCE.search(message)
        if found:
            event["ref"] = found.group(0)
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACES.formatException(record.exc_info)
        if record.exc_text:
            event["exc"] = mask_document(record.exc_text)
        if record.stack_info:
            event["stack"] = mask_document(record.stack_info)
        return json.dumps(event, ensure_ascii=False)


def log_handler(log_format: str = "json", stream: TextIO | None = None) -> logging.Handler:
    """The handler Aprova logs through: one line per event on ``stream`` (stderr), JSON or ``text``, masked."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(TextLines() if log_format == "text" else JsonLines())
    handler.addFilter(MaskDocuments())
    return handler


def configure_logging(level: str = "INFO", log_format: str = "json") -> None:
    """One line per event on stderr (JSON, or ``text`` for a person at a terminal); a host that already set up
    logging (a platform, a test runner) keeps its handlers, which still get the masking."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(log_handler(log_format))
    for handler in root.handlers:
        if not any(isinstance(f, MaskDocuments) for f in handler.filters):
            handler.addFilter(MaskDocuments())
    root.setLevel(level)
    # slack_sdk logs request bodies at DEBUG, which carry tokens; keep it quieter than ours. Its Web API clients
    # format each request and answer for DEBUG whenever their own logger's level is unset (they read ``level``, not
    # the effective level): set on them too, or every Slack call pays for text nobody writes.
    for name in ("slack_sdk", "slack_sdk.web.async_base_client", "slack_sdk.web.base_client"):
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLevelName(level)))
    # APScheduler's executor logs every run at INFO (every few minutes); its errors still come through.
    logging.getLogger("apscheduler.executors").setLevel(max(logging.WARNING, logging.getLevelName(level)))
