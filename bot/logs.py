"""Logging set-up: one line per event, CPF/CNPJ masked wherever they appear."""

from __future__ import annotations

import logging

from ledger.validation import mask_document


class MaskDocuments(logging.Filter):
    """People's tax ids never reach the log, whoever formatted the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_document(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: str = "INFO") -> None:
    """One line per event on stderr; a host that already set up logging (a platform, a test runner) keeps it."""
    root = logging.getLogger()
    if not root.handlers:
        stderr = logging.StreamHandler()
        stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.addHandler(stderr)
    for handler in root.handlers:
        if not any(isinstance(f, MaskDocuments) for f in handler.filters):
            handler.addFilter(MaskDocuments())
    root.setLevel(level)
    # slack_sdk logs request bodies at DEBUG, which carry tokens; keep it quieter than ours.
    logging.getLogger("slack_sdk").setLevel(max(logging.INFO, logging.getLevelName(level)))
    # APScheduler's executor logs every run at INFO (every few minutes); its errors still come through.
    logging.getLogger("apscheduler.executors").setLevel(max(logging.WARNING, logging.getLevelName(level)))
