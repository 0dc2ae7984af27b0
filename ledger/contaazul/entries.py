"""Creating payables and receivables in Conta Azul, following the async route's protocols, finding what was created.

:class:`EntryEndpoints` is the part of the client that moves money; :class:`~ledger.contaazul.client.ContaAzulClient`
adds the lookups on top. Every way a create can end is decided here, so that nothing is ever posted twice:

- the synchronous route (``201`` with the entry) answers ``404``/``405`` when it does not exist for the account:
  nothing was created, so the same entry goes through the asynchronous route, and the process remembers it
  (:class:`~ledger.contaazul.limits.CreateRoute`);
- a ``2xx`` naming neither an entry nor a protocol raises :class:`~ledger.errors.EntryUnidentified`: the entry exists,
  the caller finds it by our reference and never sends it again;
- a protocol is polled to its end (``ProtocolPending`` when it outlasts the deadline: follow it later, never re-post).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from ledger.contaazul.models import (
    ASYNC_PATHS,
    INSTALLMENT_PATH,
    PROTOCOL_PATH,
    SEARCH_PATHS,
    SYNC_PATHS,
    CreatedEntry,
    EntryDraft,
    EntryKind,
    EntrySummary,
    InstallmentDetail,
    ProtocolStatus,
    Route,
)
from ledger.contaazul.transport import Transport
from ledger.contaazul.wire import (
    carries_reference,
    parse_created,
    parse_entry_summary,
    parse_installment_detail,
    parse_protocol,
    payable_body_async,
    payable_body_sync,
    receivable_body_async,
    receivable_body_sync,
    reported_counterparty,
)
from ledger.errors import EntryUnidentified, PermanentGatewayError, ProtocolPending

logger = logging.getLogger(__name__)

# What Conta Azul answers for a route it does not have: the request was refused whole, so nothing was created.
ROUTE_MISSING = frozenset({404, 405})


class EntryEndpoints(Transport):
    """Creates entries through the route in use and finds them again (by protocol, or by our reference)."""

    async def create_payable(self, draft: EntryDraft, *, send_by: datetime | None = None) -> CreatedEntry:
        """Create an account payable through the route in use.

        Args:
            draft: The entry; its external reference goes into the description (and ``referencia_externa``).
            send_by: Nothing is sent, and no protocol polled, after this instant (the posting lease's margin).

        Returns:
            The created entry's id (the evento financeiro), the supplier Conta Azul reports when its answer says,
            and, on the async route, the protocol.

        Raises:
            ValueError: Amounts are inconsistent (rateio/parcelas sums) or have more than 2 decimals.
            PermanentGatewayError: Refused (400…) or the protocol ended in ERROR.
            EntryUnidentified: Accepted without naming the entry: find it by reference, never re-post.
            ProtocolPending: Accepted but unresolved in time; call ``resolve_protocol`` later, never re-post.
            RetryableGatewayError: Transient failure; if ``params["outcome_unknown"]``, reconcile before retrying.
        """
        return await self._create("payable", draft, send_by)

    async def create_receivable(self, draft: EntryDraft, *, send_by: datetime | None = None) -> CreatedEntry:
        """Create an account receivable through the route in use.

        Args:
            draft: The entry (``person_id`` is the customer).
            send_by: As for :meth:`create_payable`.

        Returns:
            As for :meth:`create_payable` (the customer instead of the supplier).

        Raises:
            ValueError: Amounts are inconsistent.
            PermanentGatewayError: Refused or the protocol ended in ERROR.
            EntryUnidentified: Accepted without naming the entry.
            ProtocolPending: Accepted but unresolved in time.
            RetryableGatewayError: Transient failure; reconcile before retrying when the outcome is unknown.
        """
        return await self._create("receivable", draft, send_by)

    async def _create(self, kind: EntryKind, draft: EntryDraft, send_by: datetime | None) -> CreatedEntry:
        if self.route == "sync":
            body = payable_body_sync(draft) if kind == "payable" else receivable_body_sync(draft)
            try:
                response = await self._request("POST", SYNC_PATHS[kind], body=body, send_by=send_by)
            except PermanentGatewayError as exc:
                if exc.status not in ROUTE_MISSING:
                    raise
                logger.warning("conta azul has no synchronous create route (%s): using the async one", exc.status)
                self.create_route.sync_missing()
            else:
                return await self._sync_answer(kind, draft, response.data, send_by)
        body = payable_body_async(draft) if kind == "payable" else receivable_body_async(draft)
        response = await self._request("POST", ASYNC_PATHS[kind], body=body, send_by=send_by)
        try:
            protocol = parse_protocol(response.data)
        except PermanentGatewayError as exc:
            raise EntryUnidentified("the async create was accepted without a protocol", body=response.data) from exc
        return await self._follow_protocol(kind, draft, protocol, "async", send_by)

    async def _sync_answer(
        self, kind: EntryKind, draft: EntryDraft, data: Any, send_by: datetime | None
    ) -> CreatedEntry:
        if _looks_like_protocol(data):
            return await self._follow_protocol(kind, draft, parse_protocol(data), "sync", send_by)
        created = parse_created(data)
        if created is None:
            raise EntryUnidentified("the create was accepted without the entry's id", body=data)
        entry_id, installment_ids = created
        return CreatedEntry(entry_id, "sync", None, installment_ids, reported_counterparty(data, kind))

    async def _follow_protocol(
        self, kind: EntryKind, draft: EntryDraft, protocol: ProtocolStatus, route: Route, send_by: datetime | None
    ) -> CreatedEntry:
        if protocol.status == "ERROR":
            raise _protocol_error(protocol)
        if protocol.status == "SUCCESS" and protocol.event_id:
            return CreatedEntry(protocol.event_id, route, protocol.id, ())
        timeout = self.protocol_timeout
        if send_by is not None:  # polling must end within the lease too; a later attempt resumes it
            timeout = max(timedelta(0), min(timeout, send_by - self._clock.now()))
        event_id = await self.resolve_protocol(
            protocol.id, kind=kind, due_date=draft.parcels()[0][0], reference=draft.external_reference, timeout=timeout
        )
        return CreatedEntry(event_id, route, protocol.id, ())

    async def resolve_protocol(
        self,
        protocol_id: str,
        *,
        kind: EntryKind,
        due_date: date,
        reference: str | None = None,
        timeout: timedelta | None = None,
    ) -> str:
        """Poll an async-create protocol until it yields the evento financeiro id.

        Falls back to matching ``evento.referencia.id`` on installments due that day when ``/v1/protocolo``
        answers 404 (reference §3.5).

        Args:
            protocol_id: The id returned by the 202.
            kind: ``"payable"`` or ``"receivable"`` (where to search in the fallback).
            due_date: First installment's due date (narrows the fallback search).
            reference: Our external reference, to narrow the fallback search by description.
            timeout: How long to poll; defaults to the client's ``protocol_timeout``.

        Returns:
            The evento financeiro id.

        Raises:
            PermanentGatewayError: The protocol ended in ERROR.
            ProtocolPending: Still unresolved at the deadline (carries ``protocol_id``).
            RetryableGatewayError: Transient failure while polling.
        """
        deadline = self._clock.now() + (timeout if timeout is not None else self.protocol_timeout)
        delay = 0.5
        use_fallback = False
        checked: set[str] = set()
        while True:
            if not use_fallback:
                try:
                    protocol = parse_protocol(await self._get(PROTOCOL_PATH.format(id=protocol_id)))
                except PermanentGatewayError as exc:
                    if exc.status != 404:
                        raise
                    logger.info("protocol endpoint 404 for %s; matching installments instead", protocol_id)
                    use_fallback = True
                else:
                    if protocol.status == "ERROR":
                        raise _protocol_error(protocol)
                    if protocol.status == "SUCCESS":
                        if protocol.event_id:
                            return protocol.event_id
                        use_fallback = True
            if use_fallback:
                event_id = await self._event_for_protocol(kind, protocol_id, due_date, reference, checked)
                if event_id:
                    return event_id
            now = self._clock.now()
            if now >= deadline:
                raise ProtocolPending(protocol_id)
            await self._sleep(min(delay, (deadline - now).total_seconds()))
            delay = min(delay * 2, 10.0)

    async def _event_for_protocol(
        self, kind: EntryKind, protocol_id: str, due_date: date, reference: str | None, checked: set[str]
    ) -> str | None:
        candidates = await self.search_entries(kind, due_date, due_date, description=reference)
        if reference:
            candidates = [c for c in candidates if reference in c.description] or await self.search_entries(
                kind, due_date, due_date
            )
        for candidate in candidates:
            if candidate.id in checked:
                continue
            detail = await self.installment(candidate.id)
            checked.add(candidate.id)
            if detail.reference_id == protocol_id and detail.event_id:
                return detail.event_id
        return None

    async def installment(self, installment_id: str) -> InstallmentDetail:
        """One installment with its event reference.

        Args:
            installment_id: Parcela id (from ``search_entries``).

        Returns:
            The installment's event id and ``evento.referencia``.

        Raises:
            PermanentGatewayError: Not found or refused.
            RetryableGatewayError: Transient failure.
        """
        data = await self._get(INSTALLMENT_PATH.format(id=installment_id))
        if not isinstance(data, dict):
            raise PermanentGatewayError("unexpected installment response", body=data)
        return parse_installment_detail(data)

    async def search_entries(
        self, kind: EntryKind, due_from: date, due_to: date, description: str | None = None
    ) -> list[EntrySummary]:
        """Installments of payables or receivables due in a date range, all pages.

        Args:
            kind: ``"payable"`` or ``"receivable"``.
            due_from: First due date (inclusive).
            due_to: Last due date (inclusive).
            description: Optional ``descricao`` filter (its matching rule is undocumented: also check locally).

        Returns:
            The installments found.

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        params: dict[str, str | int | bool] = {
            "data_vencimento_de": due_from.isoformat(),
            "data_vencimento_ate": due_to.isoformat(),
        }
        if description:
            params["descricao"] = description
        return [parse_entry_summary(item) for item in await self._pages(SEARCH_PATHS[kind], params)]

    async def find_entries_by_reference(
        self, kind: EntryKind, reference: str, due_from: date, due_to: date
    ) -> list[EntrySummary]:
        """The installments whose description ends with our exact ``reference`` token, for reconciling a retry.

        The caller still compares amount and counterparty before adopting one (see ``ledger.booking``).

        Args:
            kind: ``"payable"`` or ``"receivable"``.
            reference: Our external reference (e.g. ``PAG-2026-000123``).
            due_from: First due date to look at.
            due_to: Last due date to look at.

        Returns:
            The matching installments (usually none or one).

        Raises:
            PermanentGatewayError: The API refused.
            RetryableGatewayError: Transient failure.
        """
        for description in (reference, None):
            # The ``descricao`` filter's matching rule is undocumented: without it, scan the window ourselves.
            found = [
                entry
                for entry in await self.search_entries(kind, due_from, due_to, description=description)
                if carries_reference(entry.description, reference)
            ]
            if found:
                return found
        return []


def _looks_like_protocol(data: Any) -> bool:
    return isinstance(data, Mapping) and any(data.get(key) for key in ("protocolo", "protocolId"))


def _protocol_error(protocol: ProtocolStatus) -> PermanentGatewayError:
    return PermanentGatewayError(
        f"Conta Azul rejected the entry (protocol {protocol.id}): {protocol.response or 'no reason given'}",
        body=protocol.response,
        protocol_id=protocol.id,
    )


__all__ = ["EntryEndpoints"]
