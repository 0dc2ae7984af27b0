"""Words and formats for people: pt-BR first, English second. Babel formats money and dates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency

Locale = Literal["pt_BR", "en"]

DATE_FORMATS: dict[Locale, str] = {"pt_BR": "dd/MM/yyyy", "en": "MMM d, yyyy"}
MOMENT_FORMATS: dict[Locale, str] = {"pt_BR": "dd/MM/yyyy HH:mm", "en": "MMM d, yyyy h:mm a"}


def pick_locale(slack_locale: str | None, default: Locale = "pt_BR") -> Locale:
    """Slack's ``users.info`` locale (``en-US``, ``pt-BR``…) to one of ours."""
    if not slack_locale:
        return default
    language = slack_locale.replace("_", "-").split("-")[0].lower()
    if language == "en":
        return "en"
    if language == "pt":
        return "pt_BR"
    return default


def money(amount: Decimal, locale: Locale) -> str:
    """R$ 1.234,56 (pt-BR) or R$1,234.56 (en), with a regular space so Slack never wraps oddly."""
    return format_currency(amount, "BRL", locale="pt_BR" if locale == "pt_BR" else "en_US").replace("\xa0", " ")


def day(value: date, locale: Locale) -> str:
    return format_date(value, DATE_FORMATS[locale], locale="pt_BR" if locale == "pt_BR" else "en_US")


def moment(value: datetime, locale: Locale, tz: ZoneInfo) -> str:
    return format_datetime(
        value, MOMENT_FORMATS[locale], tzinfo=tz, locale="pt_BR" if locale == "pt_BR" else "en_US"
    ).replace("\u202f", " ")


def t(locale: Locale, key: str, **params: object) -> str:
    """The text for ``key`` in ``locale``, with ``{placeholders}`` filled in."""
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    return entry[locale].format(**params) if params else entry[locale]


MESSAGES: dict[str, dict[Locale, str]] = {
    # Request modal
    "modal.title": {"pt_BR": "Pedido de pagamento", "en": "Payment request"},
    "modal.submit": {"pt_BR": "Enviar", "en": "Submit"},
    "modal.cancel": {"pt_BR": "Cancelar", "en": "Cancel"},
    "modal.close": {"pt_BR": "Fechar", "en": "Close"},
    "modal.intro": {
        "pt_BR": "Preencha o pedido. Ele segue para aprovação e você acompanha tudo por aqui.",
        "en": "Fill in the request. It goes to approval and you can follow it here.",
    },
    "field.description": {"pt_BR": "Descrição", "en": "Description"},
    "field.description.placeholder": {"pt_BR": "Ex.: Farinha de trigo — novembro", "en": "E.g. Wheat flour — November"},
    "field.vendor_name": {"pt_BR": "Fornecedor", "en": "Vendor"},
    "field.customer_name": {"pt_BR": "Cliente", "en": "Customer"},
    "field.installments": {"pt_BR": "Parcelas", "en": "Installments"},
    "installments.monthly": {"pt_BR": "{count}× mensais", "en": "{count} monthly"},
    "field.vendor_document": {"pt_BR": "CNPJ/CPF do fornecedor", "en": "Vendor CNPJ/CPF"},
    "field.vendor_document.hint": {
        "pt_BR": "Opcional. Com ou sem pontuação; CNPJ alfanumérico aceito.",
        "en": "Optional. With or without punctuation; alphanumeric CNPJ accepted.",
    },
    "field.amount": {"pt_BR": "Valor (R$)", "en": "Amount (R$)"},
    "field.amount.placeholder": {"pt_BR": "1.234,56", "en": "1,234.56"},
    "field.competence_date": {"pt_BR": "Data de competência", "en": "Competence date"},
    "field.due_date": {"pt_BR": "Vencimento", "en": "Due date"},
    "field.category": {"pt_BR": "Categoria", "en": "Category"},
    "field.category.hint": {
        "pt_BR": "Nome exato de uma categoria de despesa do Conta Azul.",
        "en": "Exact name of an expense category in Conta Azul.",
    },
    "field.cost_center": {"pt_BR": "Centro de custo", "en": "Cost center"},
    "field.payment_method": {"pt_BR": "Forma de pagamento", "en": "Payment method"},
    "field.payment_code": {"pt_BR": "Boleto ou PIX", "en": "Boleto or PIX"},
    "field.payment_code.hint": {
        "pt_BR": "Opcional. Boleto: linha digitável (47 ou 48 dígitos) ou código de barras (44). PIX: a chave ou o "
        "código copia e cola. Valor e vencimento do código são conferidos (e preenchidos, se estiverem em branco).",
        "en": "Optional. Boleto: the typeable line (47 or 48 digits) or the barcode (44). PIX: the key or the "
        "copy-and-paste code. The code's amount and due date are checked (and filled in when left empty).",
    },
    "field.amount.hint": {
        "pt_BR": "Em branco: o valor do boleto ou do PIX copia e cola.",
        "en": "Left empty: the amount of the boleto or PIX code.",
    },
    "decoded.bank_slip": {"pt_BR": "Boleto do banco {bank}", "en": "Boleto from bank {bank}"},
    "decoded.collection_slip": {"pt_BR": "Boleto de arrecadação (convênio)", "en": "Utility/tax slip (arrecadação)"},
    "decoded.pix_key": {"pt_BR": "Chave PIX ({kind}): {pix}", "en": "PIX key ({kind}): {pix}"},
    "decoded.pix_code": {"pt_BR": "PIX copia e cola para {name} ({city})", "en": "PIX code paying {name} ({city})"},
    "decoded.pix_code_key": {"pt_BR": "chave {pix}", "en": "key {pix}"},
    "decoded.pix_code_url": {"pt_BR": "cobrança dinâmica", "en": "dynamic charge"},
    "decoded.amount": {"pt_BR": "valor {amount}", "en": "amount {amount}"},
    "decoded.amount_open": {"pt_BR": "valor em aberto", "en": "amount left open"},
    "decoded.due": {"pt_BR": "vence {due}", "en": "due {due}"},
    "decoded.txid": {"pt_BR": "txid {txid}", "en": "txid {txid}"},
    "pix.kind.cpf": {"pt_BR": "CPF", "en": "CPF"},
    "pix.kind.cnpj": {"pt_BR": "CNPJ", "en": "CNPJ"},
    "pix.kind.email": {"pt_BR": "e-mail", "en": "e-mail"},
    "pix.kind.phone": {"pt_BR": "celular", "en": "mobile"},
    "pix.kind.random": {"pt_BR": "aleatória", "en": "random"},
    "field.account": {"pt_BR": "Conta financeira", "en": "Financial account"},
    "field.account.default": {
        "pt_BR": "a padrão da empresa no lançamento",
        "en": "the company's default when posted",
    },
    "approval.fingerprint": {
        "pt_BR": "🔏 Impressão digital da aprovação: `{code}` — muda se qualquer dado do pagamento mudar.",
        "en": "🔏 Approval fingerprint: `{code}` — it changes if any payment detail changes.",
    },
    "field.invoice_number": {"pt_BR": "Número da NF", "en": "Invoice (NF) number"},
    "field.notes": {"pt_BR": "Observações", "en": "Notes"},
    "field.payment_code.short": {"pt_BR": "Boleto/PIX", "en": "Boleto/PIX"},
    "field.requester": {"pt_BR": "Solicitante", "en": "Requested by"},
    "method.boleto": {"pt_BR": "Boleto", "en": "Boleto"},
    "method.pix": {"pt_BR": "PIX", "en": "PIX"},
    "method.transfer": {"pt_BR": "Transferência (TED)", "en": "Bank transfer"},
    "method.card": {"pt_BR": "Cartão", "en": "Card"},
    "method.other": {"pt_BR": "Outro", "en": "Other"},
    # Field errors (codes from ledger.validation and the modal parser)
    "error.required": {"pt_BR": "Campo obrigatório.", "en": "This field is required."},
    "error.too_long": {"pt_BR": "Texto longo demais.", "en": "Text is too long."},
    "error.date_invalid": {"pt_BR": "Escolha uma data válida.", "en": "Pick a valid date."},
    "error.due_date_in_past": {
        "pt_BR": "O vencimento não pode estar no passado.",
        "en": "The due date cannot be in the past.",
    },
    "error.amount_invalid": {
        "pt_BR": "Valor inválido. Use, por exemplo, 1.234,56.",
        "en": "Invalid amount. Use, for example, 1,234.56.",
    },
    "error.amount_not_positive": {
        "pt_BR": "O valor deve ser maior que zero.",
        "en": "The amount must be more than zero.",
    },
    "error.amount_too_many_decimals": {
        "pt_BR": "Use no máximo 2 casas decimais (centavos).",
        "en": "Use at most 2 decimal places (cents).",
    },
    "error.amount_too_large": {"pt_BR": "Valor alto demais.", "en": "Amount is too large."},
    "error.document_invalid_length": {
        "pt_BR": "CPF tem 11 dígitos e CNPJ tem 14 caracteres.",
        "en": "A CPF has 11 digits and a CNPJ 14 characters.",
    },
    "error.document_invalid_check_digits": {
        "pt_BR": "CPF/CNPJ inválido: confira os dígitos verificadores.",
        "en": "Invalid CPF/CNPJ: check digits do not match.",
    },
    "error.boleto_invalid_length": {
        "pt_BR": "A linha digitável tem 47 dígitos (ou 48 para contas de consumo).",
        "en": "A boleto line has 47 digits (48 for utility bills).",
    },
    "error.boleto_invalid_check_digits": {
        "pt_BR": "Linha digitável inválida: confira os números.",
        "en": "Invalid boleto line: check the numbers.",
    },
    "error.boleto_not_brl": {
        "pt_BR": "Este boleto não é em reais (moeda diferente de 9): não dá para pagar por aqui.",
        "en": "This boleto is not in reais (currency digit other than 9): it cannot be paid here.",
    },
    "error.pix_code_invalid": {
        "pt_BR": "Código PIX copia e cola inválido: copie de novo o código inteiro.",
        "en": "Invalid PIX copy-and-paste code: copy the whole code again.",
    },
    "error.pix_code_crc": {
        "pt_BR": "O código PIX foi alterado ou cortado (a verificação CRC não confere): copie de novo.",
        "en": "The PIX code was altered or cut (its CRC check fails): copy it again.",
    },
    "error.payment_code_is_boleto": {
        "pt_BR": "Isto é um boleto: escolha Boleto como forma de pagamento.",
        "en": "This is a boleto: choose Boleto as the payment method.",
    },
    "error.payment_code_is_pix": {
        "pt_BR": "Isto é um código PIX: escolha PIX como forma de pagamento.",
        "en": "This is a PIX code: choose PIX as the payment method.",
    },
    "error.amount_differs_from_code": {
        "pt_BR": "O boleto/PIX é de {decoded}, mas o valor informado é {typed}. Corrija um dos dois (ou deixe o valor em branco).",
        "en": "The boleto/PIX code is for {decoded}, but the amount typed is {typed}. Fix one of them (or leave the amount empty).",
    },
    "error.due_date_differs_from_code": {
        "pt_BR": "O boleto vence em {decoded}, mas o vencimento informado é {typed}. Corrija um dos dois (ou deixe o vencimento em branco).",
        "en": "The boleto is due on {decoded}, but the due date chosen is {typed}. Fix one of them (or leave the due date empty).",
    },
    "error.pix_key_invalid": {
        "pt_BR": "Chave PIX inválida (CPF, CNPJ, e-mail, celular com DDD ou chave aleatória).",
        "en": "Invalid PIX key (CPF, CNPJ, e-mail, mobile with area code or random key).",
    },
    "error.invoice_number_invalid": {
        "pt_BR": "Número de NF inválido (até 20 caracteres, ex.: 1234 ou 1234-1).",
        "en": "Invalid invoice number (up to 20 characters, e.g. 1234 or 1234-1).",
    },
    "error.method_invalid": {"pt_BR": "Escolha uma forma de pagamento.", "en": "Choose a payment method."},
    "error.reason_required": {"pt_BR": "Diga o motivo da rejeição.", "en": "Please give a reason."},
    # Statuses
    "status.pending": {"pt_BR": "⏳ Aguardando aprovação", "en": "⏳ Awaiting approval"},
    "status.approved": {"pt_BR": "✅ Aprovado", "en": "✅ Approved"},
    "status.posting": {"pt_BR": "📤 Lançando no Conta Azul", "en": "📤 Posting to Conta Azul"},
    "status.posted": {"pt_BR": "📗 Lançado no Conta Azul", "en": "📗 Posted to Conta Azul"},
    "status.post_failed": {"pt_BR": "⚠️ Falha ao lançar no Conta Azul", "en": "⚠️ Posting to Conta Azul failed"},
    "status.rejected": {"pt_BR": "❌ Rejeitado", "en": "❌ Rejected"},
    "status.cancelled": {"pt_BR": "🚫 Cancelado", "en": "🚫 Cancelled"},
    "step.waiting": {"pt_BR": "⏸️", "en": "⏸️"},
    "step.open": {"pt_BR": "⏳", "en": "⏳"},
    "step.approved": {"pt_BR": "✅", "en": "✅"},
    "step.rejected": {"pt_BR": "❌", "en": "❌"},
    "step.closed": {"pt_BR": "➖", "en": "➖"},
    "verb.approved": {"pt_BR": "aprovado", "en": "approved"},
    "verb.rejected": {"pt_BR": "rejeitado", "en": "rejected"},
    "verb.cancelled": {"pt_BR": "cancelado", "en": "cancelled"},
    "verb.posted": {"pt_BR": "lançado", "en": "posted"},
    "verb.posting": {"pt_BR": "enviado ao Conta Azul", "en": "sent to Conta Azul"},
    "verb.post_failed": {"pt_BR": "aprovado (lançamento com falha)", "en": "approved (posting failed)"},
    "verb.pending": {"pt_BR": "atualizado", "en": "updated"},
    # Messages
    "approval.header": {"pt_BR": "Pedido de pagamento {reference}", "en": "Payment request {reference}"},
    "approval.header_receivable": {"pt_BR": "Conta a receber {reference}", "en": "Receivable {reference}"},
    "approval.ask": {
        "pt_BR": "{requester} pede a sua aprovação — etapa *{step}* ({position} de {total}).",
        "en": "{requester} asks for your approval — step *{step}* ({position} of {total}).",
    },
    "approval.text": {
        "pt_BR": "Aprovação pedida: {reference} · {vendor} · {amount}",
        "en": "Approval requested: {reference} · {vendor} · {amount}",
    },
    "button.approve": {"pt_BR": "Aprovar", "en": "Approve"},
    "button.reject": {"pt_BR": "Rejeitar", "en": "Reject"},
    "button.cancel_request": {"pt_BR": "Cancelar pedido", "en": "Cancel request"},
    "confirm.cancel.title": {"pt_BR": "Cancelar o pedido?", "en": "Cancel the request?"},
    "confirm.cancel.text": {
        "pt_BR": "Os aprovadores serão avisados de que o pedido foi cancelado.",
        "en": "Approvers will be told the request was cancelled.",
    },
    "confirm.cancel.yes": {"pt_BR": "Sim, cancelar", "en": "Yes, cancel"},
    "confirm.cancel.no": {"pt_BR": "Voltar", "en": "Go back"},
    "outcome.approved": {"pt_BR": "✅ Aprovado por <@{actor}> em {when}", "en": "✅ Approved by <@{actor}> on {when}"},
    "outcome.rejected": {"pt_BR": "❌ Rejeitado por <@{actor}> em {when}", "en": "❌ Rejected by <@{actor}> on {when}"},
    "outcome.cancelled": {
        "pt_BR": "🚫 Cancelado pelo solicitante em {when}",
        "en": "🚫 Cancelled by the requester on {when}",
    },
    "outcome.closed": {"pt_BR": "➖ Pedido encerrado: {status}", "en": "➖ Request closed: {status}"},
    "outcome.reason": {"pt_BR": "Motivo: {reason}", "en": "Reason: {reason}"},
    "tracking.text": {
        "pt_BR": "{reference} · {vendor} · {amount} — {status}",
        "en": "{reference} · {vendor} · {amount} — {status}",
    },
    "tracking.waiting_for": {"pt_BR": "Aguardando *{step}*: {approvers}", "en": "Waiting for *{step}*: {approvers}"},
    "tracking.steps": {"pt_BR": "Etapas", "en": "Steps"},
    "tracking.submitted": {
        "pt_BR": "{reference} · enviado por {requester} em {when}",
        "en": "{reference} · submitted by {requester} on {when}",
    },
    "thread.step_approved": {
        "pt_BR": "{mention}✅ Etapa *{step}* aprovada por <@{actor}>. Próxima etapa: *{next_step}*.",
        "en": "{mention}✅ Step *{step}* approved by <@{actor}>. Next step: *{next_step}*.",
    },
    "thread.approved": {
        "pt_BR": "{mention}✅ Pedido aprovado por <@{actor}> (etapa *{step}*). Segue para lançamento no Conta Azul.",
        "en": "{mention}✅ Request approved by <@{actor}> (step *{step}*). It goes on to be posted to Conta Azul.",
    },
    "thread.rejected": {
        "pt_BR": "{mention}❌ Pedido rejeitado por <@{actor}> (etapa *{step}*). Motivo: {reason}",
        "en": "{mention}❌ Request rejected by <@{actor}> (step *{step}*). Reason: {reason}",
    },
    "thread.cancelled": {
        "pt_BR": "{mention}🚫 Pedido cancelado pelo solicitante.",
        "en": "{mention}🚫 Request cancelled by the requester.",
    },
    # Reject modal
    "reject.title": {"pt_BR": "Rejeitar pedido", "en": "Reject request"},
    "reject.submit": {"pt_BR": "Rejeitar", "en": "Reject"},
    "reject.summary": {
        "pt_BR": "Você vai rejeitar *{reference}* — {vendor}, {amount}.",
        "en": "You are rejecting *{reference}* — {vendor}, {amount}.",
    },
    "reject.reason": {"pt_BR": "Motivo", "en": "Reason"},
    "reject.reason.hint": {
        "pt_BR": "O solicitante verá este motivo.",
        "en": "The requester will see this reason.",
    },
    "notice.title": {"pt_BR": "Aprova", "en": "Aprova"},
    "notice.close": {"pt_BR": "Fechar", "en": "Close"},
    # Notices (ephemeral replies)
    "notice.not_an_approver": {
        "pt_BR": "Você não é aprovador desta etapa ({step}) do pedido {reference}.",
        "en": "You are not an approver of this step ({step}) of request {reference}.",
    },
    "notice.own_request": {
        "pt_BR": "Você não pode aprovar ou rejeitar o seu próprio pedido ({reference}).",
        "en": "You cannot approve or reject your own request ({reference}).",
    },
    "notice.decided_another_step": {
        "pt_BR": "Você já decidiu a etapa *{step}* de {reference}: a mesma pessoa não decide duas etapas do mesmo pedido.",
        "en": "You already decided step *{step}* of {reference}: one person cannot decide two steps of the same request.",
    },
    "notice.terms_changed": {
        "pt_BR": "Os dados de {reference} mudaram sem reiniciar a aprovação, então ninguém pode aprová-lo. Avise o financeiro.",
        "en": "The details of {reference} changed without restarting approval, so nobody can approve it. Tell the finance team.",
    },
    "notice.not_the_requester": {
        "pt_BR": "Só quem fez o pedido {reference} pode cancelá-lo ou alterá-lo.",
        "en": "Only the person who filed {reference} can cancel or edit it.",
    },
    "notice.step_already_decided": {
        "pt_BR": "A etapa *{step}* de {reference} já foi {verb} por <@{actor}> em {when}.",
        "en": "Step *{step}* of {reference} was already {verb} by <@{actor}> on {when}.",
    },
    "notice.already_decided": {
        "pt_BR": "O pedido {reference} já foi {verb} por <@{actor}> em {when}.",
        "en": "Request {reference} was already {verb} by <@{actor}> on {when}.",
    },
    "notice.already_status": {
        "pt_BR": "O pedido {reference} não está mais aguardando aprovação ({status}).",
        "en": "Request {reference} is no longer awaiting approval ({status}).",
    },
    "notice.request_not_found": {
        "pt_BR": "Não encontrei esse pedido. Ele pode ter sido removido.",
        "en": "I could not find that request. It may have been removed.",
    },
    "notice.no_approver": {
        "pt_BR": "Não há aprovador disponível para este pedido (etapa {step}). Avise o financeiro.",
        "en": "There is no approver available for this request (step {step}). Please tell the finance team.",
    },
    "notice.submitted": {
        "pt_BR": "Pedido {reference} enviado para aprovação.",
        "en": "Request {reference} sent for approval.",
    },
    "notice.unexpected": {
        "pt_BR": "Algo deu errado do nosso lado (código {error_id}). Tente de novo; se persistir, avise o financeiro.",
        "en": "Something went wrong on our side (code {error_id}). Try again; if it persists, tell the finance team.",
    },
    # App Home
    "home.title": {"pt_BR": "Aprova — pedidos de pagamento", "en": "Aprova — payment requests"},
    "home.how_to": {
        "pt_BR": "Use `{command}` em qualquer canal para pedir um pagamento.",
        "en": "Use `{command}` in any channel to request a payment.",
    },
    "home.mine": {"pt_BR": "Meus pedidos recentes", "en": "My recent requests"},
    "home.waiting": {"pt_BR": "Aguardando a minha aprovação", "en": "Waiting for my approval"},
    "home.none": {"pt_BR": "Nada por aqui.", "en": "Nothing here."},
    # Conta Azul connection (/contaazul)
    "ca.help": {
        "pt_BR": "Uso: `/contaazul connect` (conectar), `status`, `account` (conta financeira padrão), `receivable` (lançar uma conta a receber) ou `disconnect`.",
        "en": "Usage: `/contaazul connect`, `status`, `account` (default financial account), `receivable` (post a receivable) or `disconnect`.",
    },
    "ca.not_admin": {
        "pt_BR": "Desculpe, só os administradores do financeiro podem gerenciar a conexão com o Conta Azul.",
        "en": "Sorry, only finance admins can manage the Conta Azul connection.",
    },
    "ca.not_configured": {
        "pt_BR": "O Conta Azul não está configurado neste Aprova: defina CONTAAZUL_CLIENT_ID, CONTAAZUL_CLIENT_SECRET, APROVA_PUBLIC_URL e APROVA_ENCRYPTION_KEY.",
        "en": "Conta Azul is not configured in this Aprova: set CONTAAZUL_CLIENT_ID, CONTAAZUL_CLIENT_SECRET, APROVA_PUBLIC_URL and APROVA_ENCRYPTION_KEY.",
    },
    "ca.connect.text": {
        "pt_BR": "Clique para conectar a empresa no Conta Azul. O link vale por 10 minutos e só funciona uma vez, para você.",
        "en": "Click to connect your company's Conta Azul. The link is valid for 10 minutes, once, for you only.",
    },
    "ca.connect.button": {"pt_BR": "Conectar o Conta Azul", "en": "Connect Conta Azul"},
    "ca.connected": {
        "pt_BR": "✅ Conta Azul conectado: *{company}*{document}. Conta financeira padrão: {account}.",
        "en": "✅ Conta Azul connected: *{company}*{document}. Default financial account: {account}.",
    },
    "ca.no_account": {
        "pt_BR": "nenhuma — crie uma conta financeira no Conta Azul e use `/contaazul account`",
        "en": "none — create a financial account in Conta Azul, then use `/contaazul account`",
    },
    "ca.not_connected": {
        "pt_BR": "O Conta Azul não está conectado. Um administrador do financeiro pode usar `/contaazul connect`.",
        "en": "Conta Azul is not connected. A finance admin can use `/contaazul connect`.",
    },
    "ca.status.title": {"pt_BR": "Conexão com o Conta Azul", "en": "Conta Azul connection"},
    "ca.status.company": {"pt_BR": "Empresa", "en": "Company"},
    "ca.status.connected_by": {"pt_BR": "Conectado por", "en": "Connected by"},
    "ca.status.account": {"pt_BR": "Conta financeira padrão", "en": "Default financial account"},
    "ca.status.tokens": {"pt_BR": "Acesso", "en": "Access"},
    "ca.status.tokens_ok": {"pt_BR": "✅ funcionando", "en": "✅ working"},
    "ca.status.tokens_reconnect": {
        "pt_BR": "⚠️ expirado ou revogado — use `/contaazul connect`",
        "en": "⚠️ expired or revoked — use `/contaazul connect`",
    },
    "ca.status.tokens_error": {
        "pt_BR": "❌ o Conta Azul não respondeu agora ({error}); tente de novo em instantes",
        "en": "❌ Conta Azul did not answer just now ({error}); try again shortly",
    },
    "ca.status.by": {"pt_BR": "<@{user}> em {when}", "en": "<@{user}> on {when}"},
    "ca.disconnected": {
        "pt_BR": "Conta Azul desconectado; os tokens foram apagados. Novos pedidos seguem sem lançamento até reconectar.",
        "en": "Conta Azul disconnected; the tokens were deleted. New requests will not be posted until reconnected.",
    },
    "ca.account.title": {"pt_BR": "Conta financeira", "en": "Financial account"},
    "ca.account.save": {"pt_BR": "Salvar", "en": "Save"},
    "ca.account.loading": {"pt_BR": "Buscando as contas no Conta Azul…", "en": "Fetching accounts from Conta Azul…"},
    "ca.account.label": {"pt_BR": "Conta padrão para os lançamentos", "en": "Default account for postings"},
    "ca.account.none": {
        "pt_BR": "O Conta Azul não tem nenhuma conta financeira ativa. Crie uma lá e tente de novo.",
        "en": "Conta Azul has no active financial account. Create one there and try again.",
    },
    "ca.account.saved": {
        "pt_BR": "Conta financeira padrão: *{account}*.",
        "en": "Default financial account: *{account}*.",
    },
    "ca.account.unavailable": {
        "pt_BR": "Não consegui falar com o Conta Azul agora ({error}). Tente de novo em instantes.",
        "en": "I could not reach Conta Azul just now ({error}). Try again shortly.",
    },
    "ca.reconnect_alert": {
        "pt_BR": "⚠️ A conexão do Aprova com o Conta Azul expirou ou foi revogada. Um administrador do financeiro precisa usar `/contaazul connect` de novo.",
        "en": "⚠️ Aprova's Conta Azul connection expired or was revoked. A finance admin needs to run `/contaazul connect` again.",
    },
    "modal.not_connected": {
        "pt_BR": "⚠️ Conta Azul não conectado: digite categoria e centro de custo exatamente como no Conta Azul.",
        "en": "⚠️ Conta Azul is not connected: type category and cost center exactly as in Conta Azul.",
    },
    "options.new_cost_center": {"pt_BR": "➕ Criar centro de custo: {name}", "en": "➕ New cost center: {name}"},
    "options.new_vendor": {"pt_BR": "➕ Novo fornecedor: {name}", "en": "➕ New vendor: {name}"},
    "options.new_customer": {"pt_BR": "➕ Novo cliente: {name}", "en": "➕ New customer: {name}"},
    "field.select.placeholder": {"pt_BR": "Digite para buscar", "en": "Type to search"},
    # OAuth callback page
    "page.title": {"pt_BR": "Aprova · Conta Azul", "en": "Aprova · Conta Azul"},
    "page.connected": {
        "pt_BR": "Conta Azul conectado: {company}. Pode fechar esta janela e voltar ao Slack.",
        "en": "Conta Azul connected: {company}. You can close this window and go back to Slack.",
    },
    "page.state_unknown": {
        "pt_BR": "Este link de conexão não é válido. Use `/contaazul connect` no Slack para gerar outro.",
        "en": "This connection link is not valid. Use `/contaazul connect` in Slack to get a new one.",
    },
    "page.state_expired": {
        "pt_BR": "Este link de conexão expirou. Use `/contaazul connect` no Slack para gerar outro.",
        "en": "This connection link has expired. Use `/contaazul connect` in Slack to get a new one.",
    },
    "page.state_used": {
        "pt_BR": "Este link de conexão já foi usado. Se a conexão não apareceu no Slack, use `/contaazul connect` de novo.",
        "en": "This connection link was already used. If Slack did not confirm the connection, run `/contaazul connect` again.",
    },
    "page.code_invalid": {
        "pt_BR": "O Conta Azul recusou a autorização (código expirado ou já usado — ele vale 3 minutos). Use `/contaazul connect` de novo.",
        "en": "Conta Azul refused the authorization (the code expired or was already used — it lasts 3 minutes). Run `/contaazul connect` again.",
    },
    "page.denied": {
        "pt_BR": "A autorização foi negada no Conta Azul. Nada foi conectado.",
        "en": "Authorization was denied at Conta Azul. Nothing was connected.",
    },
    "page.unavailable": {
        "pt_BR": "O Conta Azul não respondeu agora. Tente `/contaazul connect` de novo em alguns minutos.",
        "en": "Conta Azul did not answer just now. Try `/contaazul connect` again in a few minutes.",
    },
    "page.bad_request": {
        "pt_BR": "Faltam dados na resposta do Conta Azul. Use `/contaazul connect` no Slack para começar de novo.",
        "en": "The answer from Conta Azul is incomplete. Use `/contaazul connect` in Slack to start again.",
    },
    # Posting to Conta Azul
    "tracking.contaazul_id": {"pt_BR": "Conta Azul: lançamento `{id}`", "en": "Conta Azul: entry `{id}`"},
    "thread.posted_receivable": {
        "pt_BR": "{mention}📗 Conta a receber lançada no Conta Azul: {vendor} · {amount} · vencimento {due} {installments}· id `{id}` · <{url}|abrir contas a receber>",
        "en": "{mention}📗 Receivable posted to Conta Azul: {vendor} · {amount} · due {due} {installments}· id `{id}` · <{url}|open receivables>",
    },
    "thread.posted": {
        "pt_BR": "{mention}📗 Lançado no Conta Azul: {vendor} · {amount} · vencimento {due} · id `{id}` · <{url}|abrir contas a pagar>",
        "en": "{mention}📗 Posted to Conta Azul: {vendor} · {amount} · due {due} · id `{id}` · <{url}|open payables>",
    },
    "thread.post_failed": {
        "pt_BR": "{mention}⚠️ Não consegui lançar no Conta Azul: {reason}. O financeiro foi avisado.",
        "en": "{mention}⚠️ I could not post this to Conta Azul: {reason}. The finance team has been told.",
    },
    "finance.post_failed": {
        "pt_BR": "⚠️ *{reference}* ({vendor}, {amount}) não foi lançado no Conta Azul: {reason}.\nCorrija a causa e clique em *Tentar de novo*.",
        "en": "⚠️ *{reference}* ({vendor}, {amount}) was not posted to Conta Azul: {reason}.\nFix the cause, then click *Retry*.",
    },
    "finance.retry_requested": {
        "pt_BR": "🔁 Nova tentativa pedida por <@{actor}> em {when}.",
        "en": "🔁 Retry requested by <@{actor}> on {when}.",
    },
    "button.retry": {"pt_BR": "Tentar de novo", "en": "Retry"},
    "notice.retry_not_admin": {
        "pt_BR": "Só os administradores do financeiro podem tentar lançar de novo.",
        "en": "Only finance admins can retry a posting.",
    },
    "notice.retry_stale": {
        "pt_BR": "O pedido {reference} não está mais com falha de lançamento ({status}).",
        "en": "Request {reference} is no longer failed ({status}).",
    },
    "reason.category_missing": {
        "pt_BR": "a categoria “{category}” não existe no Conta Azul (foi renomeada ou apagada?)",
        "en": "the category “{category}” does not exist in Conta Azul (was it renamed or deleted?)",
    },
    "reason.not_configured": {
        "pt_BR": "o Conta Azul não está configurado neste Aprova",
        "en": "Conta Azul is not configured in this Aprova",
    },
    "reason.not_connected": {
        "pt_BR": "o Conta Azul não está conectado (use `/contaazul connect`)",
        "en": "Conta Azul is not connected (use `/contaazul connect`)",
    },
    "reason.needs_reconnect": {
        "pt_BR": "a conexão com o Conta Azul expirou (use `/contaazul connect`)",
        "en": "the Conta Azul connection expired (use `/contaazul connect`)",
    },
    "reason.no_account": {
        "pt_BR": "nenhuma conta financeira padrão foi escolhida (use `/contaazul account`)",
        "en": "no default financial account is set (use `/contaazul account`)",
    },
    "reason.vendor_invalid": {
        "pt_BR": "o CPF/CNPJ do fornecedor não foi aceito",
        "en": "the vendor's CPF/CNPJ was not accepted",
    },
    "reason.rejected": {
        "pt_BR": "o Conta Azul recusou o lançamento ({detail})",
        "en": "Conta Azul refused the entry ({detail})",
    },
    "reason.not_approved": {
        "pt_BR": "os dados do pedido não são exatamente os que foram aprovados, então nada foi lançado",
        "en": "the request's details are not exactly what was approved, so nothing was posted",
    },
    "reason.internal": {
        "pt_BR": "um erro interno interrompeu o lançamento ({detail}); nada foi lançado duas vezes",
        "en": "an internal error stopped the posting ({detail}); nothing was posted twice",
    },
    "reason.unconfirmed": {
        "pt_BR": "o Conta Azul nunca confirmou o lançamento: confira em contas a pagar antes de tentar de novo "
        "(o Tentar de novo procura o lançamento antes de criar outro)",
        "en": "Conta Azul never confirmed the entry: check the payables list before retrying "
        "(Retry looks for the entry before creating another)",
    },
    "reason.reconcile_conflict": {
        "pt_BR": "já existe no Conta Azul um lançamento com a referência deste pedido, mas com outro valor ou "
        "fornecedor: confira-o antes de tentar de novo",
        "en": "Conta Azul already has an entry carrying this request's reference, but with another amount or "
        "vendor: check it before retrying",
    },
    "reason.unavailable": {
        "pt_BR": "o Conta Azul ficou indisponível por muito tempo",
        "en": "Conta Azul was unavailable for too long",
    },
    # Reminders and escalation (periodic jobs)
    "reminder.text": {
        "pt_BR": "⏰ Lembrete: {reference} aguarda a sua aprovação há {hours} h",
        "en": "⏰ Reminder: {reference} has been waiting for your approval for {hours} h",
    },
    "escalation.text": {
        "pt_BR": "⏫ {reference} está sem decisão há {hours} h na etapa *{step}* e foi escalado para você.",
        "en": "⏫ {reference} has had no decision for {hours} h at step *{step}* and was escalated to you.",
    },
    "thread.escalated": {
        "pt_BR": "⏫ Sem decisão há {hours} h na etapa *{step}*: escalado para {approvers}.",
        "en": "⏫ No decision for {hours} h at step *{step}*: escalated to {approvers}.",
    },
    # Daily digest (finance channel)
    "digest.header": {"pt_BR": "Resumo do dia {day}", "en": "Daily summary — {day}"},
    "digest.text": {
        "pt_BR": "Resumo do dia {day}: {pending} aguardando aprovação, {posted} lançados, {failed} com falha de lançamento",
        "en": "Daily summary for {day}: {pending} awaiting approval, {posted} posted, {failed} failed to post",
    },
    "digest.pending": {
        "pt_BR": "⏳ *Aguardando aprovação*\n{count} · {total}",
        "en": "⏳ *Awaiting approval*\n{count} · {total}",
    },
    "digest.awaiting_posting": {
        "pt_BR": "✅ *Aprovados, ainda não lançados*\n{count} · {total}",
        "en": "✅ *Approved, not yet posted*\n{count} · {total}",
    },
    "digest.posted": {
        "pt_BR": "📗 *Lançados no dia*\n{count} · {total}",
        "en": "📗 *Posted that day*\n{count} · {total}",
    },
    "digest.rejected": {
        "pt_BR": "❌ *Rejeitados no dia*\n{count} · {total}",
        "en": "❌ *Rejected that day*\n{count} · {total}",
    },
    "digest.receivables": {
        "pt_BR": "📥 *Contas a receber lançadas no dia*\n{count} · {total}",
        "en": "📥 *Receivables posted that day*\n{count} · {total}",
    },
    "digest.failed": {
        "pt_BR": "⚠️ *Falhas de lançamento ({count})* — corrija e use *Tentar de novo*: {references}",
        "en": "⚠️ *Failed postings ({count})* — fix the cause and use *Retry*: {references}",
    },
    "digest.no_failures": {"pt_BR": "Nenhuma falha de lançamento.", "en": "No failed postings."},
    "digest.more": {"pt_BR": "e mais {count}", "en": "and {count} more"},
    "digest.generated": {"pt_BR": "Gerado em {when}", "en": "Generated on {when}"},
    # Receivables (won deals and /contaazul receivable)
    "source.generic": {"pt_BR": "CRM", "en": "CRM"},
    "source.pipedrive": {"pt_BR": "Pipedrive", "en": "Pipedrive"},
    "source.hubspot": {"pt_BR": "HubSpot", "en": "HubSpot"},
    "source.manual": {"pt_BR": "Aprova", "en": "Aprova"},
    "source.slack": {"pt_BR": "Slack", "en": "Slack"},
    "tracking.no_steps": {"pt_BR": "sem aprovação (lançamento direto)", "en": "no approval (posted directly)"},
    "error.installments_range": {"pt_BR": "De 1 a 60 parcelas.", "en": "From 1 to 60 installments."},
    "error.installments_too_small": {
        "pt_BR": "Valor pequeno demais para tantas parcelas: cada uma precisa de pelo menos R$ 0,01.",
        "en": "The amount is too small for that many installments: each needs at least R$ 0.01.",
    },
    "receivable.modal.title": {"pt_BR": "Conta a receber", "en": "Receivable"},
    "receivable.modal.intro": {
        "pt_BR": "Lança uma conta a receber no Conta Azul (cliente criado se não existir).",
        "en": "Posts a receivable to Conta Azul (the customer is created when missing).",
    },
    "field.customer_document": {"pt_BR": "CNPJ/CPF do cliente", "en": "Customer CNPJ/CPF"},
    "field.customer_email": {"pt_BR": "E-mail do cliente", "en": "Customer e-mail"},
    "field.sale_date": {"pt_BR": "Data da venda (competência)", "en": "Sale date (competence)"},
    "error.email_invalid": {"pt_BR": "E-mail inválido.", "en": "Invalid e-mail."},
    "notice.receivable_not_admin": {
        "pt_BR": "Só os administradores do financeiro podem lançar contas a receber.",
        "en": "Only finance admins can post receivables.",
    },
    "notice.receivable_not_connected": {
        "pt_BR": "Conecte o Conta Azul primeiro (`/contaazul connect`): as contas a receber são lançadas lá.",
        "en": "Connect Conta Azul first (`/contaazul connect`): receivables are posted there.",
    },
    # History (audit trail) and the monthly export
    "button.history": {"pt_BR": "Histórico", "en": "History"},
    "history.title": {"pt_BR": "Histórico", "en": "History"},
    "history.header": {"pt_BR": "Histórico de {reference}", "en": "History of {reference}"},
    "history.earlier": {
        "pt_BR": "… e {count} eventos anteriores (veja a exportação)",
        "en": "… and {count} earlier events (see the export)",
    },
    "history.system": {"pt_BR": "Aprova", "en": "Aprova"},
    "history.other": {"pt_BR": "{who}: {action}", "en": "{who}: {action}"},
    "history.submitted": {"pt_BR": "📝 Enviado por {who}", "en": "📝 Submitted by {who}"},
    "history.step_approved": {
        "pt_BR": "✅ Etapa *{step}* aprovada por {who}",
        "en": "✅ Step *{step}* approved by {who}",
    },
    "history.approved": {
        "pt_BR": "✅ Aprovado por {who} (etapa *{step}*)",
        "en": "✅ Approved by {who} (step *{step}*)",
    },
    "history.approved_direct": {
        "pt_BR": "✅ Aprovado sem etapas: lançamento direto",
        "en": "✅ Approved with no steps: posted directly",
    },
    "history.rejected": {
        "pt_BR": "❌ Rejeitado por {who} (etapa *{step}*): {reason}",
        "en": "❌ Rejected by {who} (step *{step}*): {reason}",
    },
    "history.cancelled": {"pt_BR": "🚫 Cancelado por {who}", "en": "🚫 Cancelled by {who}"},
    "history.reminded": {
        "pt_BR": "⏰ Aprovadores da etapa *{step}* lembrados",
        "en": "⏰ Approvers of step *{step}* reminded",
    },
    "history.escalated": {
        "pt_BR": "⏫ Etapa *{step}* escalada para {added}",
        "en": "⏫ Step *{step}* escalated to {added}",
    },
    "history.post_attempt_failed": {
        "pt_BR": "⏳ Tentativa {attempt} de lançamento não deu certo: {detail}",
        "en": "⏳ Posting attempt {attempt} did not go through: {detail}",
    },
    "history.post_failed": {
        "pt_BR": "⚠️ Lançamento falhou ({code}): {detail}",
        "en": "⚠️ Posting failed ({code}): {detail}",
    },
    "history.post_retry_requested": {
        "pt_BR": "🔁 Nova tentativa pedida por {who}",
        "en": "🔁 Retry requested by {who}",
    },
    "history.posted": {
        "pt_BR": "📗 Lançado no Conta Azul: id `{id}` (tentativa {attempt})",
        "en": "📗 Posted to Conta Azul: id `{id}` (attempt {attempt})",
    },
    "history.slack_call_failed": {
        "pt_BR": "📵 Uma mensagem do Slack não pôde ser enviada",
        "en": "📵 A Slack message could not be sent",
    },
    "notice.history_not_allowed": {
        "pt_BR": "O histórico de {reference} é visível para quem pediu, para os aprovadores e para o financeiro.",
        "en": "The history of {reference} is for its requester, its approvers and the finance team.",
    },
    "export.kind.payable": {"pt_BR": "A pagar", "en": "Payable"},
    "export.kind.receivable": {"pt_BR": "A receber", "en": "Receivable"},
    "export.status.pending": {"pt_BR": "Aguardando aprovação", "en": "Awaiting approval"},
    "export.status.approved": {"pt_BR": "Aprovado", "en": "Approved"},
    "export.status.posting": {"pt_BR": "Lançando", "en": "Posting"},
    "export.status.posted": {"pt_BR": "Lançado", "en": "Posted"},
    "export.status.post_failed": {"pt_BR": "Falha no lançamento", "en": "Posting failed"},
    "export.status.rejected": {"pt_BR": "Rejeitado", "en": "Rejected"},
    "export.status.cancelled": {"pt_BR": "Cancelado", "en": "Cancelled"},
    "export.not_admin": {
        "pt_BR": "Só os administradores do financeiro podem exportar.",
        "en": "Only finance admins can export.",
    },
    "export.bad_month": {
        "pt_BR": "Não entendi o mês. Use, por exemplo, `{command} export 2026-11` ou `{command} export 11/2026`.",
        "en": "I did not understand the month. Use, for example, `{command} export 2026-11` or `{command} export 11/2026`.",
    },
    "export.comment": {
        "pt_BR": "📊 Fechamento de {month}: {count} pedidos (competência no mês) e o histórico de cada um.",
        "en": "📊 Close of {month}: {count} requests (competence in the month) and the history of each.",
    },
    "export.failed": {
        "pt_BR": "Não consegui enviar o arquivo ({error}).",
        "en": "I could not upload the file ({error}).",
    },
    # Duplicate detection
    "duplicate.warning": {
        "pt_BR": "⚠️ *Possível duplicata:* {found}. Confira antes de enviar: mesmo fornecedor e valor com o mesmo vencimento, ou a mesma NF.",
        "en": "⚠️ *Possible duplicate:* {found}. Check before submitting: same vendor and amount with the same due date, or the same invoice number.",
    },
    "duplicate.confirm_label": {"pt_BR": "Não é duplicata?", "en": "Not a duplicate?"},
    "duplicate.confirm": {"pt_BR": "Confirmo: este pagamento é outro", "en": "I confirm: this is a different payment"},
    "duplicate.in_books": {
        "pt_BR": "no Conta Azul: {description} ({amount}, vencimento {due})",
        "en": "in Conta Azul: {description} ({amount}, due {due})",
    },
    "duplicate.flag": {
        "pt_BR": "⚠️ *Possível duplicata* de {found} — o solicitante confirmou que é outro pagamento.",
        "en": "⚠️ *Possible duplicate* of {found} — the requester confirmed it is a different payment.",
    },
    # App Home
    "home.next": {"pt_BR": "aguarda *{step}*: {approvers}", "en": "waiting for *{step}*: {approvers}"},
    "home.previous": {"pt_BR": "◀ Anteriores", "en": "◀ Previous"},
    "home.more": {"pt_BR": "Próximos ▶", "en": "Next ▶"},
    "home.page": {
        "pt_BR": "Página {page} de {pages} · {count} pedidos",
        "en": "Page {page} of {pages} · {count} requests",
    },
    "home.admin": {"pt_BR": "Financeiro", "en": "Finance"},
    "home.ca.not_configured": {
        "pt_BR": "Conta Azul não configurado neste Aprova.",
        "en": "Conta Azul is not configured in this Aprova.",
    },
    "home.ca.not_connected": {
        "pt_BR": "🔌 Conta Azul não conectado: use `/contaazul connect`.",
        "en": "🔌 Conta Azul is not connected: run `/contaazul connect`.",
    },
    "home.ca.reconnect": {
        "pt_BR": "⚠️ A conexão com *{company}* expirou: use `/contaazul connect`.",
        "en": "⚠️ The connection to *{company}* expired: run `/contaazul connect`.",
    },
    "home.ca.connected": {
        "pt_BR": "✅ Conectado a *{company}* · conta {account}",
        "en": "✅ Connected to *{company}* · account {account}",
    },
    "home.ca.no_account": {
        "pt_BR": "padrão não escolhida (`/contaazul account`)",
        "en": "not chosen (`/contaazul account`)",
    },
    "home.failed": {"pt_BR": "⚠️ Lançamentos com falha ({count})", "en": "⚠️ Failed postings ({count})"},
    "home.list_more": {"pt_BR": "… e mais {count}", "en": "… and {count} more"},
    "home.by_category": {"pt_BR": "A pagar em {month}, por categoria", "en": "Payables in {month}, by category"},
    "home.by_cost_center": {
        "pt_BR": "A pagar em {month}, por centro de custo",
        "en": "Payables in {month}, by cost center",
    },
    "home.receivables": {
        "pt_BR": "📥 A receber no mês: {count} · {total}",
        "en": "📥 Receivables this month: {count} · {total}",
    },
    "home.no_cost_center": {"pt_BR": "(sem centro de custo)", "en": "(no cost center)"},
    # Editing a request
    "button.edit": {"pt_BR": "Alterar", "en": "Edit"},
    "edit.title": {"pt_BR": "Alterar pedido", "en": "Edit request"},
    "edit.intro": {
        "pt_BR": "Alterar fornecedor, valor, vencimento, categoria ou centro de custo recomeça a aprovação.",
        "en": "Changing the vendor, amount, due date, category or cost center starts the approval over.",
    },
    "edit.save": {"pt_BR": "Salvar", "en": "Save"},
    "notice.edited_since": {
        "pt_BR": "{reference} foi alterado pelo solicitante depois desta mensagem: a aprovação recomeçou com uma mensagem nova.",
        "en": "{reference} was edited by its requester after this message: approval started over with a new message.",
    },
    "notice.nothing_changed": {"pt_BR": "Nada mudou em {reference}.", "en": "Nothing changed in {reference}."},
    "thread.edited": {
        "pt_BR": "{mention}✏️ Pedido alterado: {changes}.",
        "en": "{mention}✏️ Request edited: {changes}.",
    },
    "thread.edited_restart": {
        "pt_BR": "{mention}✏️ Pedido alterado: {changes}. A aprovação recomeçou: *{step}* aguarda {approvers}.",
        "en": "{mention}✏️ Request edited: {changes}. Approval started over: *{step}* waits for {approvers}.",
    },
    "approval.retired": {
        "pt_BR": "✏️ {reference} foi alterado pelo solicitante: esta aprovação não vale mais e uma nova foi pedida.",
        "en": "✏️ {reference} was edited by its requester: this approval no longer counts and a new one was asked.",
    },
    "history.edited": {"pt_BR": "✏️ Alterado por {who}: {changes}", "en": "✏️ Edited by {who}: {changes}"},
    # Attachments
    "field.attachments": {"pt_BR": "Anexos (NF, boleto)", "en": "Attachments (invoice, boleto)"},
    "field.attachments.hint": {
        "pt_BR": "Opcional. PDF, imagem ou XML da NF-e, até 5 arquivos; os aprovadores recebem uma cópia.",
        "en": "Optional. PDF, image or NF-e XML, up to 5 files; approvers get a copy.",
    },
    # Approval rules edited in Slack (App Home, finance admins)
    "rules.title": {"pt_BR": "Regras de aprovação", "en": "Approval rules"},
    "rules.changed": {"pt_BR": "Alteradas por <@{actor}> em {when}.", "en": "Changed by <@{actor}> on {when}."},
    "rules.from_file": {
        "pt_BR": "Do arquivo de política (ainda não alteradas no Slack).",
        "en": "From the policy file (not changed in Slack yet).",
    },
    "rules.from": {"pt_BR": "a partir de {amount}", "en": "from {amount}"},
    "rules.below": {"pt_BR": "abaixo de {amount}", "en": "below {amount}"},
    "rules.categories": {"pt_BR": "categorias: {names}", "en": "categories: {names}"},
    "rules.cost_centers": {"pt_BR": "centros de custo: {names}", "en": "cost centers: {names}"},
    "rules.any": {"pt_BR": "qualquer pedido", "en": "any request"},
    "rules.menu.edit": {"pt_BR": "Editar", "en": "Edit"},
    "rules.menu.up": {"pt_BR": "Subir", "en": "Move up"},
    "rules.menu.down": {"pt_BR": "Descer", "en": "Move down"},
    "rules.menu.delete": {"pt_BR": "Excluir", "en": "Delete"},
    "rules.default": {
        "pt_BR": "*Padrão* (nenhuma regra se aplica): {steps}\n*Substitutos* (etapa sem ninguém além do solicitante): {fallback}",
        "en": "*Default* (no rule applies): {steps}\n*Fallback* (a step with nobody but the requester): {fallback}",
    },
    "rules.times": {
        "pt_BR": "⏰ Lembrete após {remind} h · escalada após {escalate} h",
        "en": "⏰ Reminder after {remind} h · escalation after {escalate} h",
    },
    "rules.delegation": {
        "pt_BR": "🏖️ <@{approver}> ausente de {start} a {end}: decide <@{delegate}>",
        "en": "🏖️ <@{approver}> away from {start} to {end}: <@{delegate}> decides",
    },
    "rules.add": {"pt_BR": "Nova regra", "en": "New rule"},
    "rules.edit_default": {"pt_BR": "Padrão e substitutos", "en": "Default and fallback"},
    "rules.edit_times": {"pt_BR": "Lembretes", "en": "Reminders"},
    "rules.delegate": {"pt_BR": "Ausência", "en": "Away"},
    "rules.history": {"pt_BR": "Histórico das regras", "en": "Rules history"},
    "rules.cancel_delegation": {"pt_BR": "Cancelar ausência de {day}", "en": "Cancel the absence from {day}"},
    "rules.modal.title": {"pt_BR": "Regra de aprovação", "en": "Approval rule"},
    "rules.modal.intro": {
        "pt_BR": "A primeira regra que combina com o pedido decide as etapas. Deixe em branco o que não importa.",
        "en": "The first rule matching a request decides its steps. Leave blank what does not matter.",
    },
    "rules.name": {"pt_BR": "Nome da regra", "en": "Rule name"},
    "rules.min_amount": {"pt_BR": "A partir de (R$)", "en": "From (R$)"},
    "rules.max_amount": {"pt_BR": "Abaixo de (R$)", "en": "Below (R$)"},
    "rules.field.categories": {"pt_BR": "Categorias", "en": "Categories"},
    "rules.field.cost_centers": {"pt_BR": "Centros de custo", "en": "Cost centers"},
    "rules.one_per_line": {"pt_BR": "Uma por linha, como no Conta Azul.", "en": "One per line, as in Conta Azul."},
    "rules.step_name": {"pt_BR": "Etapa {n}: nome", "en": "Step {n}: name"},
    "rules.step_users": {"pt_BR": "Etapa {n}: aprovadores", "en": "Step {n}: approvers"},
    "rules.step_groups": {"pt_BR": "Etapa {n}: grupos do Slack", "en": "Step {n}: Slack user groups"},
    "rules.step_groups.hint": {
        "pt_BR": "IDs de grupo (S…), separados por vírgula.",
        "en": "User group ids (S…), comma separated.",
    },
    "rules.default.title": {"pt_BR": "Padrão e substitutos", "en": "Default and fallback"},
    "rules.default.intro": {
        "pt_BR": "Etapas dos pedidos que nenhuma regra pega.",
        "en": "Steps for requests no rule catches.",
    },
    "rules.fallback": {"pt_BR": "Substitutos", "en": "Fallback approvers"},
    "rules.fallback.hint": {
        "pt_BR": "Quem decide quando uma etapa fica só com o solicitante, e quem recebe as escaladas.",
        "en": "Who decides when a step is left with only the requester, and who gets escalations.",
    },
    "rules.times.title": {"pt_BR": "Lembretes", "en": "Reminders"},
    "rules.remind": {"pt_BR": "Lembrar os aprovadores após (horas)", "en": "Remind approvers after (hours)"},
    "rules.escalate": {
        "pt_BR": "Escalar para os substitutos após (horas)",
        "en": "Escalate to the fallback after (hours)",
    },
    "rules.away": {"pt_BR": "Quem vai se ausentar", "en": "Who will be away"},
    "rules.delegate_to": {"pt_BR": "Quem decide no lugar", "en": "Who decides instead"},
    "rules.starts_on": {"pt_BR": "De", "en": "From"},
    "rules.ends_on": {"pt_BR": "Até (inclusive)", "en": "Until (inclusive)"},
    "rules.not_admin": {
        "pt_BR": "Só os administradores do financeiro podem mudar as regras de aprovação.",
        "en": "Only finance admins can change the approval rules.",
    },
    "rules.stale": {
        "pt_BR": "Outra pessoa alterou as regras enquanto você editava. Abra de novo e refaça a alteração.",
        "en": "Someone else changed the rules while you were editing. Open them again and redo your change.",
    },
    "rules.invalid": {"pt_BR": "Regras recusadas: {error}", "en": "Rules refused: {error}"},
    "rules.summary.added": {"pt_BR": "Regra “{name}” criada", "en": "Rule “{name}” added"},
    "rules.summary.edited": {"pt_BR": "Regra “{name}” alterada", "en": "Rule “{name}” changed"},
    "rules.summary.deleted": {"pt_BR": "Regra “{name}” excluída", "en": "Rule “{name}” deleted"},
    "rules.summary.moved": {
        "pt_BR": "Regra “{name}” movida para a posição {position}",
        "en": "Rule “{name}” moved to position {position}",
    },
    "rules.summary.default": {
        "pt_BR": "Etapas padrão e substitutos alterados",
        "en": "Default steps and fallback changed",
    },
    "rules.summary.times": {
        "pt_BR": "Lembrete após {remind} h, escalada após {escalate} h",
        "en": "Reminder after {remind} h, escalation after {escalate} h",
    },
    "error.rules_no_approver": {
        "pt_BR": "Escolha ao menos um aprovador ou grupo.",
        "en": "Choose at least one approver or group.",
    },
    "error.rules_bad_group": {"pt_BR": "Use IDs de grupo do Slack (S…).", "en": "Use Slack user group ids (S…)."},
    "error.rules_no_steps": {
        "pt_BR": "Dê ao menos uma etapa, com nome e aprovadores.",
        "en": "Give at least one step, with a name and approvers.",
    },
    "error.rules_hours": {"pt_BR": "Um número inteiro de horas.", "en": "A whole number of hours."},
    "error.rules_invalid": {"pt_BR": "Regra recusada: confira os campos.", "en": "Rule refused: check the fields."},
}
