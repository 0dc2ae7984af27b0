"""Messages: the approval rules editor."""

from __future__ import annotations

from bot.blocks.catalogue import Locale

MESSAGES: dict[str, dict[Locale, str]] = {
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
    "notice.not_an_admin.rules": {
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
