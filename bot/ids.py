"""Identifiers shared by the Block Kit builders and the handlers that listen for them."""

from __future__ import annotations

import enum


class CallbackId(enum.StrEnum):
    REQUEST_MODAL = "payment-request"
    REJECT_MODAL = "payment-reject"
    ACCOUNT_MODAL = "contaazul-account"
    RECEIVABLE_MODAL = "contaazul-receivable"
    EDIT_MODAL = "payment-edit"
    RULE_MODAL = "rules-rule"
    DEFAULT_MODAL = "rules-default"
    TIMES_MODAL = "rules-times"
    DELEGATION_MODAL = "rules-delegation"


class ActionId(enum.StrEnum):
    APPROVE = "payment-approve"
    REJECT = "payment-reject"
    CANCEL = "payment-cancel"
    RETRY_POSTING = "posting-retry"
    HISTORY = "request-history"
    EDIT = "payment-edit"
    RULES_MENU = "rules-menu"
    RULES_ADD = "rules-add"
    RULES_DEFAULT = "rules-edit-default"
    RULES_TIMES = "rules-edit-times"
    RULES_DELEGATE = "rules-delegate"
    RULES_UNDELEGATE = "rules-undelegate"
    RULES_HISTORY = "rules-history"
    HOME_PAGE = "home-page-next"
    HOME_PAGE_BACK = "home-page-back"  # a block's buttons need distinct action ids
    FIELD = "value"  # every input block keeps its value under this action id
    PAYMENT_CODE = "payment-code"  # the boleto/PIX input: read as soon as it is pasted (dispatch_action)
    CONNECT_LINK = "contaazul-connect-link"
    CATEGORY_OPTIONS = "category-options"
    COST_CENTER_OPTIONS = "cost-center-options"
    VENDOR_OPTIONS = "vendor-options"
    REVENUE_CATEGORY_OPTIONS = "revenue-category-options"
    CUSTOMER_OPTIONS = "customer-options"


class RequestField(enum.StrEnum):
    """Block ids of the request modal; also the keys of its inline errors."""

    DESCRIPTION = "description"
    VENDOR_NAME = "vendor_name"
    VENDOR_DOCUMENT = "vendor_document"
    AMOUNT = "amount"
    COMPETENCE_DATE = "competence_date"
    DUE_DATE = "due_date"
    CATEGORY = "category"
    COST_CENTER = "cost_center"
    PAYMENT_METHOD = "payment_method"
    PAYMENT_CODE = "payment_code"
    INVOICE_NUMBER = "invoice_number"
    NOTES = "notes"
    ATTACHMENTS = "attachments"


class ReceivableField(enum.StrEnum):
    """Block ids of the receivable modal (``/contaazul receivable``)."""

    DESCRIPTION = "description"
    CUSTOMER_NAME = "customer_name"
    CUSTOMER_DOCUMENT = "customer_document"
    CUSTOMER_EMAIL = "customer_email"
    AMOUNT = "amount"
    SALE_DATE = "sale_date"
    DUE_DATE = "due_date"
    INSTALLMENTS = "installments"
    CATEGORY = "category"
    COST_CENTER = "cost_center"
    PAYMENT_METHOD = "payment_method"
    INVOICE_NUMBER = "invoice_number"
    NOTES = "notes"


class RejectField(enum.StrEnum):
    REASON = "reason"
