"""Messages: the request modal and its errors, request messages, statuses, notices, edits, duplicates, attachments."""

from __future__ import annotations

from bot.blocks.catalogue import Locale

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
        "pt_BR": "⚠️ Erro interno, código {error_id}: algo deu errado do nosso lado. Tente de novo; se persistir, avise o financeiro com esse código.",
        "en": "⚠️ Internal error, code {error_id}: something went wrong on our side. Try again; if it persists, tell the finance team that code.",
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
}
