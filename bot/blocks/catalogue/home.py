"""Messages: the App Home tab, history and export, reminders and escalation, the daily digest."""

from __future__ import annotations

from bot.blocks.catalogue import Locale

MESSAGES: dict[str, dict[Locale, str]] = {
    # App Home
    "home.title": {"pt_BR": "Aprova — pedidos de pagamento", "en": "Aprova — payment requests"},
    "home.how_to": {
        "pt_BR": "Use `{command}` em qualquer canal para pedir um pagamento.",
        "en": "Use `{command}` in any channel to request a payment.",
    },
    "home.mine": {"pt_BR": "Meus pedidos recentes", "en": "My recent requests"},
    "home.waiting": {"pt_BR": "Aguardando a minha aprovação", "en": "Waiting for my approval"},
    "home.none": {"pt_BR": "Nada por aqui.", "en": "Nothing here."},
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
    "notice.not_an_admin.export": {
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
}
