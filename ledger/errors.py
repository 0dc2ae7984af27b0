"""Errors raised by the ledger, one small tree.

    LedgerError
      ├── InvalidValue             one value a person typed (also a ValueError, for the pure parsers)
      ├── RequestNotFound          no request with that id/reference
      ├── NotAllowed               the person may not do this (not an approver, not the requester, not an admin)
      ├── StaleDecision            someone else changed the request first (compare-and-set lost)
      ├── InvalidSubmission        user input that fails validation, keyed by form field
      ├── PolicyError              approval rules (the file, the editor, an absence, the times) are invalid
      ├── NoApprover               a request's step is left with nobody who may approve it (``step``)
      ├── OAuthStateError          the OAuth callback's state is unknown, expired or used
      ├── TokensUnreadable         stored tokens no configured encryption key decrypts (also a ValueError)
      ├── WebhookRefused           a CRM webhook delivery cannot be taken (``status`` is the HTTP answer)
      └── GatewayError             talking to the books (Conta Azul) failed
            ├── PermanentGatewayError   a 4xx or a rule the books refuse: retrying will not help
            │     ├── OAuthGrantError, NotConnected, ConnectionNeedsReconnect   the connection
            │     └── PostingRefused   a rule of ours or of the books stops a posting
            └── RetryableGatewayError   429, 5xx, timeout, dropped connection: try again later
                  ├── ProtocolPending   an async create accepted, not yet resolved: follow it, never re-post
                  └── EntryUnidentified   a create accepted without naming the entry: find it, never re-post

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
    """``field`` names the rule key or form field at fault when there is one."""

    code = "policy_error"


class NoApprover(LedgerError):
    """Planning found a step with nobody who is neither the requester nor on another step (``step``: its name)."""

    code = "no_approver"


class GatewayError(LedgerError):
    code = "gateway_error"

    def __init__(self, message: str = "", *, status: int | None = None, body: Any = None, **params: Any) -> None:
        super().__init__(message, **params)
        self.status = status
        self.body = body


class PermanentGatewayError(GatewayError):
    code = "rejected"  # the books said no (subclasses say more precisely why)


class RetryableGatewayError(GatewayError):
    code = "unavailable"

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


class EntryUnidentified(RetryableGatewayError):
    """Conta Azul accepted a create (a 2xx) but named neither the entry nor a protocol: the entry exists, so it is
    found by our reference (``outcome_unknown``: whoever retries reconciles first), never sent again."""

    code = "entry_unidentified"

    def __init__(self, message: str, *, body: Any = None) -> None:
        super().__init__(message, body=body, outcome_unknown=True)


class InvalidValue(LedgerError, ValueError):
    """A user-supplied value was rejected; ``code`` is stable, the message is English."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class OAuthStateError(LedgerError):
    """The callback's ``state`` is not one we issued, has expired, or was already used."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


class TokensUnreadable(LedgerError, ValueError):
    """Stored Conta Azul tokens that no key of APROVA_ENCRYPTION_KEY decrypts: the key was replaced or lost."""

    code = "tokens_unreadable"


class OAuthGrantError(PermanentGatewayError):
    """The token endpoint refused the grant: ``code_invalid`` (code reused/expired) or ``refresh_invalid``."""

    def __init__(self, code: str, message: str = "", *, status: int | None = None, body: Any = None) -> None:
        super().__init__(message or code, status=status, body=body)
        self.code = code


class NotConnected(PermanentGatewayError):
    """The team has no Conta Azul connection."""

    code = "not_connected"


class ConnectionNeedsReconnect(PermanentGatewayError):
    """The refresh token was refused; an admin must run the connect flow again."""

    code = "needs_reconnect"


class PostingRefused(PermanentGatewayError):
    """A rule of ours or of the books stops the posting; ``code`` names it for people."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message, **params)
        self.code = code


class WebhookRefused(LedgerError):
    """The webhook cannot be taken; ``status`` is the HTTP answer (401 unauthenticated, 400/422 unusable)."""

    code = "webhook_refused"

    def __init__(self, status: int, message: str, **params: Any) -> None:
        super().__init__(message, **params)
        self.status = status
