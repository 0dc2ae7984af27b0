"""Messages: connecting Conta Azul, the OAuth page, posting outcomes, receivables."""

from __future__ import annotations

from bot.blocks.catalogue import Locale

MESSAGES: dict[str, dict[Locale, str]] = {
    # Conta Azul connection (/contaazul)
    "ca.help": {
        "pt_BR": "Uso: `/contaazul connect` (conectar), `status`, `account` (conta financeira padrão), `receivable` (lançar uma conta a receber) ou `disconnect`.",
        "en": "Usage: `/contaazul connect`, `status`, `account` (default financial account), `receivable` (post a receivable) or `disconnect`.",
    },
    "notice.not_an_admin.contaazul": {
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
    "notice.tokens_unreadable": {
        "pt_BR": "⚠️ Os tokens do Conta Azul guardados pelo Aprova não podem ser lidos com a chave configurada (APROVA_ENCRYPTION_KEY foi trocada ou perdida). Peça a quem administra o Aprova para restaurar a chave antiga (APROVA_ENCRYPTION_KEY=nova,antiga), ou conecte de novo com `/contaazul connect`.",
        "en": "⚠️ The Conta Azul tokens Aprova keeps cannot be read with the configured key (APROVA_ENCRYPTION_KEY was replaced or lost). Ask whoever runs Aprova to restore the old key (APROVA_ENCRYPTION_KEY=new,old), or connect again with `/contaazul connect`.",
    },
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
        "pt_BR": "Conta Azul desconectado: o acesso do Aprova foi revogado no Conta Azul e os tokens foram apagados. Novos pedidos seguem sem lançamento até reconectar.",
        "en": "Conta Azul disconnected: Aprova's access was revoked at Conta Azul and the tokens were deleted. New requests will not be posted until reconnected.",
    },
    "ca.disconnected.unavailable": {
        "pt_BR": "Conta Azul desconectado; os tokens foram apagados aqui. ⚠️ O Conta Azul não ofereceu a revogação do acesso ({error}): para encerrá-lo lá também, remova o aplicativo do Aprova nas integrações do Conta Azul.",
        "en": "Conta Azul disconnected; the tokens were deleted here. ⚠️ Conta Azul did not offer to revoke the access ({error}): to end it there too, remove the Aprova app from Conta Azul's integrations.",
    },
    "ca.disconnected.failed": {
        "pt_BR": "Conta Azul desconectado; os tokens foram apagados aqui. ⚠️ A revogação do acesso no Conta Azul falhou ({error}): para encerrá-lo lá também, remova o aplicativo do Aprova nas integrações do Conta Azul.",
        "en": "Conta Azul disconnected; the tokens were deleted here. ⚠️ Revoking the access at Conta Azul failed ({error}): to end it there too, remove the Aprova app from Conta Azul's integrations.",
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
    "delivery.failed": {
        "pt_BR": "⚠️ O Slack recusou uma mensagem do pedido {reference} para {target} ({error}) e não vai aceitá-la "
        "numa nova tentativa: confira se o canal ou a pessoa ainda existem e se o Aprova está no canal.",
        "en": "⚠️ Slack refused a message of request {reference} to {target} ({error}) and will not take it on a "
        "retry: check that the channel or person still exists and that Aprova is in the channel.",
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
    "page.browser_mismatch": {
        "pt_BR": "Este retorno do Conta Azul não veio do navegador que abriu o link de conexão. Abra o link de `/contaazul connect` neste navegador e autorize por ele; nada foi conectado.",
        "en": "This answer from Conta Azul did not come from the browser that opened the connection link. Open the `/contaazul connect` link in this browser and authorize from it; nothing was connected.",
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
    "thread.counterparty_mismatch": {
        "pt_BR": "⚠️ Atenção: no Conta Azul este lançamento aparece com outro {party} ({shown}), não {vendor}. "
        "O financeiro foi avisado para corrigir.",
        "en": "⚠️ Note: in Conta Azul this entry shows another {party} ({shown}), not {vendor}. "
        "The finance team has been told to fix it.",
    },
    "finance.counterparty_mismatch": {
        "pt_BR": "⚠️ *{reference}* ({amount}) foi lançado no Conta Azul (id `{id}`), mas aparece com outro {party}: "
        "{shown} em vez de {vendor}.\nCorrija o lançamento no Conta Azul.",
        "en": "⚠️ *{reference}* ({amount}) was posted to Conta Azul (id `{id}`), but it shows another {party}: "
        "{shown} instead of {vendor}.\nFix the entry in Conta Azul.",
    },
    "party.vendor": {"pt_BR": "fornecedor", "en": "vendor"},
    "party.customer": {"pt_BR": "cliente", "en": "customer"},
    "party.none": {"pt_BR": "nenhum", "en": "none"},
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
    "notice.not_an_admin.retry": {
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
    "notice.not_an_admin.receivable": {
        "pt_BR": "Só os administradores do financeiro podem lançar contas a receber.",
        "en": "Only finance admins can post receivables.",
    },
    "notice.receivable_not_connected": {
        "pt_BR": "Conecte o Conta Azul primeiro (`/contaazul connect`): as contas a receber são lançadas lá.",
        "en": "Connect Conta Azul first (`/contaazul connect`): receivables are posted there.",
    },
}
