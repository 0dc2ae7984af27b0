"""Won deals from CRMs, by webhook: one module per CRM, each a :class:`~ledger.crm.source.CrmSource`.

Each module authenticates deliveries the way its CRM documents (see its docstring) and reads them into a
:class:`~ledger.receivables.WonDeal`; ``fields`` holds what they read with. Adding a CRM is one such module and its
entry in :data:`SOURCES`, whose keys are the webhook paths (``POST /crm/{name}``).
"""

from __future__ import annotations

from collections.abc import Mapping

from ledger.crm.generic import GenericSource
from ledger.crm.hubspot import HubSpotSource
from ledger.crm.pipedrive import PipedriveSource
from ledger.crm.source import CrmSource


def _by_name(*sources: CrmSource) -> Mapping[str, CrmSource]:
    return {source.name: source for source in sources}


SOURCES = _by_name(GenericSource(), PipedriveSource(), HubSpotSource())
