"""Aprova's system of record: payment requests, their approval, and posting them to the books exactly once.

This is the surface the Slack layer's listeners use (``tests/test_architecture.py`` holds them to it): the use
cases on :class:`Ledger`, the read models they return, the values they take, and the errors they raise. The
modules behind it (``flows``, ``outbox``, ``posting``, ``contaazul``…) are for the wiring, the workers and the tests.
"""

from ledger.access import check_may_edit, is_editable, may_see
from ledger.contaazul.revocation import RevokeOutcome
from ledger.domain import PaymentMethod, PlannedStep, RequestDraft, RequestKind, RequestStatus, StepStatus
from ledger.duplicates import PossibleDuplicate, decode_duplicates, encode_duplicates
from ledger.errors import (
    ConnectionNeedsReconnect,
    GatewayError,
    InvalidSubmission,
    InvalidValue,
    LedgerError,
    NoApprover,
    NotAllowed,
    PolicyError,
    RequestNotFound,
    StaleDecision,
    TokensUnreadable,
)
from ledger.payment_code import detect_payment_method, read_payment_code
from ledger.policy import Policy
from ledger.ports import Books, Clock, Directory
from ledger.read_models import AuditEntry, DelegationView, PostingView, RequestView, RuleVersionView, StepView
from ledger.rules import RuleChange, Rules, check_times
from ledger.use_cases import Ledger

__all__ = [
    "AuditEntry",
    "Books",
    "Clock",
    "ConnectionNeedsReconnect",
    "DelegationView",
    "Directory",
    "GatewayError",
    "InvalidSubmission",
    "InvalidValue",
    "Ledger",
    "LedgerError",
    "NoApprover",
    "NotAllowed",
    "PaymentMethod",
    "PlannedStep",
    "Policy",
    "PolicyError",
    "PossibleDuplicate",
    "PostingView",
    "RequestDraft",
    "RequestKind",
    "RequestNotFound",
    "RequestStatus",
    "RequestView",
    "RevokeOutcome",
    "RuleChange",
    "RuleVersionView",
    "Rules",
    "StaleDecision",
    "StepStatus",
    "StepView",
    "TokensUnreadable",
    "check_may_edit",
    "check_times",
    "decode_duplicates",
    "detect_payment_method",
    "encode_duplicates",
    "is_editable",
    "may_see",
    "read_payment_code",
]
