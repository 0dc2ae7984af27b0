"""Errors raised by the ledger, one small tree.

    LedgerError
      ├── RequestNotFound          no request with that id/reference
      ├── NotAllowed               the person may not do this (not an approver, not the requester, not an admin)
      ├── StaleDecision            someone else changed the request first (compare-and-set lost)
      ├── InvalidSubmission        user input that fails validation, keyed by form field
      ├── PolicyError              the approval policy file is invalid or yields no eligible approver
      └── GatewayError             talking to the books (Conta Azul) failed
            ├── PermanentGatewayError   a 4xx or a rule the books refuse: retrying will not help
            └── RetryableGatewayError   429, 5xx, timeout, dropped connection: try again later
                  └── ProtocolPending   an async create accepted, not yet resolved: follow it, never re-post

Each carries a stable ``code`` that the Slack layer translates for the person; messages are English and
are meant for operators' logs.
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""

    code = "ledger_error"

    def __init__(self, message: str = "", **params: Any) -> None:
        super().__init__(message or self.code)
        self.params = params


class RequestNotFound(LedgerError):
    code = "request_not_found"


class NotAllowed(LedgerError):
    """``code`` says why: ``not_an_approver``, ``own_request``, ``not_the_requester``, ``not_an_admin``."""

    def __init__(self, code: str, message: str = "", **params: Any) -> None:
        super().__init__(message or code, **params)
        self.code = code


class StaleDecision(LedgerError):
    """The compare-and-set lost: ``params`` describe the state that won (status, actor, when)."""

    code = "stale_decision"


class InvalidSubmission(LedgerError):
    """Field errors keyed by form field name, each value an error code; ``details`` holds values a message
    shows (e.g. the amount typed and the amount the boleto says), keyed by the same field names."""

    code = "invalid_submission"

    def __init__(self, errors: dict[str, str], *, details: dict[str, dict[str, Any]] | None = None) -> None:
        super().__init__(f"invalid fields: {sorted(errors)}")
        self.errors = errors
        self.details = details or {}


class PolicyError(LedgerError):
    code = "policy_error"


class GatewayError(LedgerError):
    code = "gateway_error"

    def __init__(self, message: str = "", *, status: int | None = None, body: Any = None, **params: Any) -> None:
        super().__init__(message, **params)
        self.status = status
        self.body = body


class PermanentGatewayError(GatewayError):
    code = "gateway_permanent"


class RetryableGatewayError(GatewayError):
    code = "gateway_retryable"

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        body: Any = None,
        retry_after: float | None = None,
        **params: Any,
    ) -> None:
        super().__init__(message, status=status, body=body, **params)
        self.retry_after = retry_after


class ProtocolPending(RetryableGatewayError):
    """The async create was accepted but not resolved before the deadline: reconcile later, never re-post."""

    code = "protocol_pending"

    def __init__(self, protocol_id: str, message: str = "") -> None:
        super().__init__(message or f"protocol {protocol_id} still pending", protocol_id=protocol_id)
        self.protocol_id = protocol_id
