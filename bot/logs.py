"""Logging set-up: one line per event, CPF/CNPJ masked wherever they appear."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from ledger.validation import mask_document


class MaskDocuments(logging.Filter):
    """People's tax ids never reach the log, whoever formatted the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_document(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


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
        if record.exc_info:
            event["exc"] = mask_document(self.formatException(record.exc_info))
        return json.dumps(event, ensure_ascii=False)


def configure_logging(level: str = "INFO", log_format: str = "json") -> None:
    """One line per event on stderr (JSON, or ``text`` for a person at a terminal); a host that already set up
    logging (a platform, a test runner) keeps its handlers, which still get the masking."""
    root = logging.getLogger()
    if not root.handlers:
        stderr = logging.StreamHandler()
        text = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
        stderr.setFormatter(text if log_format == "text" else JsonLines())
        root.addHandler(stderr)
    for handler in root.handlers:
        if not any(isinstance(f, MaskDocuments) for f in handler.filters):
            handler.addFilter(MaskDocuments())
    root.setLevel(level)
    # slack_sdk logs request bodies at DEBUG, which carry tokens; keep it quieter than ours.
    logging.getLogger("slack_sdk").setLevel(max(logging.INFO, logging.getLevelName(level)))
    # APScheduler's executor logs every run at INFO (every few minutes); its errors still come through.
    logging.getLogger("apscheduler.executors").setLevel(max(logging.WARNING, logging.getLevelName(level)))
