"""Slack messages are never lost, never doubled, and keep their order — through the real app, with Slack failing.

What a change must tell is stored with the change (``ledger.notifications``) and sent by the delivery worker; the
tests make LocalSlack answer 429, 500, drop the connection, or do the call and lose the answer, and check that
every message arrives exactly once, in order, once time has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.deliveries import ChannelPacer, DeliveryWorker
from bot.deps import Answering
from bot.ids import ActionId
from ledger import flows, notifications
from ledger.models import AuditEvent, Notification
from tests.harness import (
    CFO,
    MANAGER,
    REQUESTER,
    REQUESTS_CHANNEL,
    VALID_ANSWERS,
    running_aprova,
    with_matching_boleto,
)

pytestmark = pytest.mark.anyio


def approval_posts(aprova, approver: str) -> list[dict]:
    return [m for m in aprova.approval_messages(approver)]


async def statuses(session_factory) -> list[str]:
    async with session_factory() as session:
        return list(await session.scalars(select(Notification.status).order_by(Notification.id)))


async def file(aprova) -> None:
    view = await aprova.open_modal()
    response = await aprova.submit(view, **VALID_ANSWERS)
    assert response.status_code == 200 and response.text == "", response.text
    await aprova.settle()


@pytest.mark.parametrize(
    ("error", "status"),
    [("ratelimited", 429), ("internal_error", 500), ("connection_dropped", None), ("answer_lost", None)],
)
async def test_the_approvers_dm_arrives_once_whatever_slack_did(session_factory, clock, error, status):
    async with running_aprova(session_factory, clock) as aprova:
        # The first chat.postMessage is the tracking message; the second is the approver's DM.
        aprova.slack.fail_next("chat.postMessage", error=error, status=status, retry_after=3)
        await file(aprova)
        assert aprova.tracking_messages() == [] or error == "answer_lost"
        assert await statuses(session_factory) == ["pending"]  # not lost: waiting to be tried again
        clock.advance(timedelta(minutes=5))
        await aprova.settle()
        assert len(aprova.tracking_messages()) == 1
        assert len(approval_posts(aprova, MANAGER)) == 1
        assert await statuses(session_factory) == ["done"]


async def test_a_lost_answer_is_found_by_its_metadata_not_posted_twice(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        aprova.slack.fail_next("chat.postMessage", error="answer_lost")
        await file(aprova)
        assert len(aprova.tracking_messages()) == 1  # Slack has it; Aprova does not know yet
        clock.advance(timedelta(minutes=5))
        await aprova.settle()
        assert len(aprova.tracking_messages()) == 1
        assert aprova.slack.calls_to("conversations.history")  # looked for it by its key
        request = await flows.get_request(session_factory, request_id=1)
        assert request.tracking_ts == aprova.tracking_messages()[0]["ts"]  # and adopted it


async def test_a_rate_limit_waits_for_retry_after(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        aprova.slack.fail_next("chat.postMessage", retry_after=30)
        await file(aprova)
        clock.advance(timedelta(seconds=10))
        await aprova.settle()
        assert aprova.tracking_messages() == []  # Slack said 30 s
        clock.advance(timedelta(seconds=21))
        await aprova.settle()
        assert len(aprova.tracking_messages()) == 1 and len(approval_posts(aprova, MANAGER)) == 1


async def test_one_pass_sends_a_requests_events_in_turn_and_stops_when_nothing_follows(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        assert aprova.deliveries is not None and aprova.listeners is not None
        view = await aprova.open_modal()
        await aprova.submit(view, **VALID_ANSWERS)
        await aprova.listeners.settle(timeout=60)
        await flows.decide(session_factory, clock=clock, request_id=1, step_position=0, actor_id=MANAGER, approve=True)
        assert await aprova.deliveries.run_pass() == 2  # the decision waited for the submission, then went too
        [tracking] = aprova.tracking_messages()
        assert len(aprova.thread(tracking)) == 1
        assert await statuses(session_factory) == ["done", "done"]
        assert await aprova.deliveries.run_pass() == 0


async def test_a_rate_limited_requests_channel_does_not_hold_the_approvers_dm(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        aprova.slack.fail_next("chat.postMessage", retry_after=30)  # the tracking message
        await file(aprova)
        assert aprova.tracking_messages() == []
        assert len(approval_posts(aprova, MANAGER)) == 1  # at once
        clock.advance(timedelta(seconds=31))
        await aprova.settle()
        assert len(aprova.tracking_messages()) == 1 and len(approval_posts(aprova, MANAGER)) == 1
        assert await statuses(session_factory) == ["done"]


async def test_a_thread_reply_waits_for_its_tracking_message(session_factory, clock):
    """A decision made while the tracking message is still unsent: its reply follows the tracking message."""
    async with running_aprova(session_factory, clock) as aprova:
        aprova.slack.fail_next("chat.postMessage", error="internal_error", status=500)  # the tracking message
        await file(aprova)
        await flows.decide(session_factory, clock=clock, request_id=1, step_position=0, actor_id=MANAGER, approve=True)
        aprova.deps.wake_deliveries()
        await aprova.settle()
        assert aprova.tracking_messages() == []  # the decision waits behind the submission's tracking message
        assert len(approval_posts(aprova, MANAGER)) == 1  # which did not hold the approver's DM
        clock.advance(timedelta(minutes=5))
        await aprova.settle()
        [tracking] = aprova.tracking_messages()
        [reply] = aprova.thread(tracking)
        assert "aprovado por" in reply["text"]
        posted = [c.args for c in aprova.slack.calls_to("chat.postMessage")]
        assert posted[-1].get("thread_ts") == tracking["ts"]  # the reply went last, into the right thread
        assert await statuses(session_factory) == ["done", "done"]


async def test_a_permanent_slack_error_is_audited_and_told_to_finance(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        aprova.slack.fail_next("chat.postMessage", error="channel_not_found")  # the requests channel is gone
        await file(aprova)
        assert aprova.tracking_messages() == []
        assert len(approval_posts(aprova, MANAGER)) == 1  # the rest of the event went on
        told = aprova.slack.messages(aprova.slack.dm_channel(CFO))
        assert any("PAG-2026-000001" in m["text"] and "channel_not_found" in m["text"] for m in told)
        async with session_factory() as session:
            failed = list(await session.scalars(select(AuditEvent).where(AuditEvent.action == "slack_call_failed")))
        assert [e.detail["error"] for e in failed] == ["channel_not_found"]
        assert await statuses(session_factory) == ["done"]


async def test_what_a_dead_process_left_unsent_goes_out_after_a_restart(session_factory, clock):
    """The change committed, the messages did not get out: the next process sends them, once."""
    async with running_aprova(session_factory, clock) as aprova:
        aprova.slack.fail_next("chat.postMessage", error="connection_dropped")
        await file(aprova)  # the tracking post never got out: as if the process had died there
        assert aprova.tracking_messages() == []
        assert len(approval_posts(aprova, MANAGER)) == 1  # the approver's DM did not wait for it
    clock.advance(timedelta(minutes=5))
    async with running_aprova(session_factory, clock) as restarted:
        await restarted.settle()
        assert len(restarted.tracking_messages()) == 1
        assert approval_posts(restarted, MANAGER) == []  # sent before, not again
        assert await statuses(session_factory) == ["done"]


async def test_a_worker_stopped_mid_event_is_followed_without_doubling_what_it_sent(session_factory, clock):
    """The worker posts the tracking message and stops before it can write that down (its process died while Slack
    answered): the event's lease runs out, and the next worker finds the message by its key instead of posting it
    again."""
    async with running_aprova(session_factory, clock) as aprova:
        assert aprova.deliveries is not None
        aprova.slack.fail_next("chat.postMessage", error="answer_held")  # the tracking message: posted, unanswered
        view = await aprova.open_modal()
        await aprova.submit(view, **VALID_ANSWERS)
        await aprova.listeners.settle(timeout=60)  # type: ignore[union-attr]
        doomed = asyncio.create_task(aprova.deliveries.drain())
        await aprova.slack.wait_for("chat.postMessage")
        doomed.cancel()  # as the process dying
        with contextlib.suppress(asyncio.CancelledError):
            await doomed
        aprova.slack.release_answers()
        assert len(aprova.tracking_messages()) == 1 and await statuses(session_factory) == ["pending"]
        await aprova.settle()
        assert len(aprova.approval_messages(MANAGER)) == 0  # still leased to the stopped worker
        clock.advance(timedelta(minutes=2))  # the lease runs out
        other = DeliveryWorker(aprova.deps, aprova.deliveries.client, owner="next-instance")
        await other.drain()
        assert len(aprova.tracking_messages()) == 1  # found, not posted again
        assert aprova.slack.calls_to("conversations.history")
        assert len(approval_posts(aprova, MANAGER)) == 1
        assert await statuses(session_factory) == ["done"]
        request = await flows.get_request(session_factory, request_id=1)
        assert request.tracking_ts == aprova.tracking_messages()[0]["ts"]


async def test_two_workers_send_each_message_once(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        assert aprova.deliveries is not None
        aprova.deps.deliveries = None  # nothing handed over: both workers claim from the outbox
        other = DeliveryWorker(aprova.deps, aprova.deliveries.client, owner="other-instance")
        for i in range(6):
            view = await aprova.open_modal()
            changes = {"invoice_number": f"NF {100 + i}", "amount": f"{100 + i},00"}
            answers = with_matching_boleto(VALID_ANSWERS | changes, changes)
            await aprova.submit(view, **answers)
        await aprova.listeners.settle(timeout=60)  # type: ignore[union-attr]
        await asyncio.gather(aprova.deliveries.drain(), other.drain())
        assert len(aprova.tracking_messages()) == 6
        assert len(approval_posts(aprova, MANAGER)) == 6
        assert await statuses(session_factory) == ["done"] * 6


async def leases(session_factory) -> list[tuple[str | None, int]]:
    async with session_factory() as session:
        rows = await session.execute(select(Notification.lease_owner, Notification.attempts).order_by(Notification.id))
        return [(owner, attempts) for owner, attempts in rows]


async def submit_unsent(aprova) -> None:
    """A request filed and answered; its messages not sent yet."""
    view = await aprova.open_modal()
    response = await aprova.submit(view, **VALID_ANSWERS)
    assert response.status_code == 200 and response.text == "", response.text
    await aprova.listeners.settle(timeout=60)


async def test_a_new_requests_event_is_handed_to_this_process_worker_not_claimed(session_factory, clock):
    """The submission stores its event already leased to this process's worker and hands it over once answered:
    another instance cannot take it meanwhile, and this worker sends it without claiming it."""
    async with running_aprova(session_factory, clock) as aprova:
        assert aprova.deliveries is not None
        await submit_unsent(aprova)
        assert await leases(session_factory) == [("test-worker", 1)]
        other = DeliveryWorker(aprova.deps, aprova.deliveries.client, owner="other-instance")
        assert await other.drain() == 0  # leased: not for another instance
        assert await aprova.deliveries.drain() == 1
        assert len(aprova.tracking_messages()) == 1 and len(approval_posts(aprova, MANAGER)) == 1
        assert await statuses(session_factory) == ["done"] and await leases(session_factory) == [(None, 1)]
        assert not aprova.slack.calls_to("conversations.history")  # nothing to look for: nobody had tried


async def test_an_event_handed_over_and_unsent_at_stop_is_given_back_at_once(session_factory, clock):
    """A worker stopping with handed events not sent yet gives them back, due now and not "resumed" (nothing of
    them left): the next worker sends them without waiting for the lease to run out."""
    async with running_aprova(session_factory, clock) as aprova:
        assert aprova.deliveries is not None
        await submit_unsent(aprova)
        await aprova.deliveries.stop()
        assert await leases(session_factory) == [(None, 1)] and await statuses(session_factory) == ["pending"]
        assert aprova.tracking_messages() == []
        other = DeliveryWorker(aprova.deps, aprova.deliveries.client, owner="next-instance")
        assert await other.drain() == 1
        assert len(aprova.tracking_messages()) == 1 and len(approval_posts(aprova, MANAGER)) == 1
        assert not aprova.slack.calls_to("conversations.history")
        assert await statuses(session_factory) == ["done"]


async def test_an_event_handed_over_too_late_is_left_to_its_lease_running_out(session_factory, clock):
    """A handed event that waited past half its lease (an overloaded process) is not sent by hand: another worker
    may take it over when the lease runs out, and two senders must never meet. It goes out then, once."""
    async with running_aprova(session_factory, clock) as aprova:
        assert aprova.deliveries is not None
        await submit_unsent(aprova)
        clock.advance(timedelta(seconds=40))
        assert await aprova.deliveries.drain() == 0
        assert aprova.tracking_messages() == [] and await statuses(session_factory) == ["pending"]
        clock.advance(timedelta(seconds=30))  # the lease has run out
        assert await aprova.deliveries.drain() == 1
        assert len(aprova.tracking_messages()) == 1 and len(approval_posts(aprova, MANAGER)) == 1
        assert await statuses(session_factory) == ["done"]


async def test_a_retry_due_in_the_outbox_is_not_held_back_by_handed_events(session_factory, clock):
    """Submissions keep handing events over; a message due again in the outbox (after a 429) still goes out with
    them, not after a pause in submissions."""
    async with running_aprova(session_factory, clock) as aprova:
        assert aprova.deliveries is not None
        aprova.slack.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=1)
        await file(aprova)  # the first request's tracking message: rate limited, due again in a second
        assert await statuses(session_factory) == ["pending"]
        clock.advance(timedelta(seconds=2))
        view = await aprova.open_modal()
        changes = {"invoice_number": "NF 300", "amount": "300,00"}
        await aprova.submit(view, **with_matching_boleto(VALID_ANSWERS | changes, changes))
        await aprova.listeners.settle(timeout=60)  # type: ignore[union-attr]
        aprova.deliveries.outbox_look_every = 0  # not to depend on how long the test took to get here
        sent, _ = await aprova.deliveries._batch()
        assert sent == 2  # the handed event and the one due in the outbox, in one batch
        assert len(aprova.tracking_messages()) == 2
        assert await statuses(session_factory) == ["done", "done"]


async def test_a_decision_with_nothing_before_it_to_send_is_handed_over(session_factory, clock):
    """The approver's click: its event is stored leased to this process's worker and handed over with the request
    as decided, so another instance cannot take it, and the DM is updated without a claim or a read-back."""
    async with running_aprova(session_factory, clock) as aprova:
        assert aprova.deliveries is not None and aprova.listeners is not None
        await aprova.file_request()
        [dm] = approval_posts(aprova, MANAGER)
        assert ActionId.APPROVE.value in str(dm["blocks"])
        await aprova.click(dm, ActionId.APPROVE.value, user_id=MANAGER)
        await aprova.listeners.settle(timeout=60)
        assert await leases(session_factory) == [(None, 1), ("test-worker", 1)]
        other = DeliveryWorker(aprova.deps, aprova.deliveries.client, owner="other-instance")
        assert await other.drain() == 0  # leased: not for another instance
        assert await aprova.deliveries.drain() == 1
        [updated] = approval_posts(aprova, MANAGER)
        assert ActionId.APPROVE.value not in str(updated["blocks"])  # the buttons are gone: the DM drawn as decided
        [tracking] = aprova.tracking_messages()
        [reply] = aprova.thread(tracking)
        assert "aprovado por" in reply["text"]
        assert await statuses(session_factory) == ["done", "done"]


async def test_a_decision_while_an_earlier_event_is_unsent_waits_its_turn(session_factory, clock):
    """Clicked before the submission's messages were all sent (its settle records the DM the click updates): not
    handed over, it is claimed after the earlier event, and the DM and thread come out in order."""
    async with running_aprova(session_factory, clock) as aprova:
        assert aprova.deliveries is not None and aprova.listeners is not None
        aprova.slack.fail_next("chat.postMessage", error="internal_error", status=500)  # the tracking message
        await file(aprova)
        assert await statuses(session_factory) == ["pending"]
        [dm] = approval_posts(aprova, MANAGER)
        assert ActionId.APPROVE.value in str(dm["blocks"])
        await aprova.click(dm, ActionId.APPROVE.value, user_id=MANAGER)
        await aprova.listeners.settle(timeout=60)
        assert await leases(session_factory) == [(None, 1), (None, 0)]  # stored to be claimed in its turn
        await aprova.deliveries.drain()
        assert await statuses(session_factory) == ["pending", "pending"]  # still behind the tracking message
        clock.advance(timedelta(minutes=5))
        await aprova.settle()
        [tracking] = aprova.tracking_messages()
        [reply] = aprova.thread(tracking)
        assert "aprovado por" in reply["text"]
        [updated] = approval_posts(aprova, MANAGER)
        assert ActionId.APPROVE.value not in str(updated["blocks"])
        assert await statuses(session_factory) == ["done", "done"]


def test_pacing_keeps_a_channel_to_its_share_without_holding_others():
    pacer = ChannelPacer(per_second=1.0, burst=2)
    assert pacer.take(REQUESTS_CHANNEL, 0.0) == 0 and pacer.take(REQUESTS_CHANNEL, 0.0) == 0
    assert pacer.take(REQUESTS_CHANNEL, 0.0) == pytest.approx(1.0)  # the burst is spent: one a second
    assert pacer.take("D0OTHER", 0.0) == 0  # another channel is not held
    assert pacer.take(REQUESTS_CHANNEL, 1.0) == 0


async def test_a_paced_channel_is_sent_later_not_dropped(session_factory, clock):
    async with running_aprova(session_factory, clock, slack_channel_burst=1) as aprova:
        for i in range(3):
            view = await aprova.open_modal()
            changes = {"invoice_number": f"NF {200 + i}", "amount": f"{200 + i},00"}
            await aprova.submit(view, **with_matching_boleto(VALID_ANSWERS | changes, changes))
        await aprova.settle()
        assert len(aprova.tracking_messages()) == 1  # one at once in the requests channel
        assert len(approval_posts(aprova, MANAGER)) == 1
        for _ in range(3):
            clock.advance(timedelta(seconds=2))
            await aprova.settle()
        assert len(aprova.tracking_messages()) == 3 and len(approval_posts(aprova, MANAGER)) == 3
        assert await notifications.pending_count(session_factory) == 0


async def test_a_failure_before_the_ack_keeps_the_form_stores_nothing_and_says_so(session_factory, clock):
    """Planning needs a user group and Slack keeps dropping the connection (retries included): Slack is answered 500
    (it shows its error and keeps the form), nothing is stored, and the person is told with a code to quote."""
    async with running_aprova(session_factory, clock) as aprova:
        view = await aprova.open_modal()
        for _ in range(10):  # more than slack_sdk's retry and aiohttp's own retry of a reused connection
            aprova.slack.fail_next("usergroups.users.list", error="connection_dropped")
        big = {"amount": "12.000,00"}  # the rule above R$ 10 mil has the Diretoria group as its second step
        response = await aprova.submit(view, **with_matching_boleto(VALID_ANSWERS | big, big))
        await aprova.settle()
        assert response.status_code == 500
        async with session_factory() as session:
            assert list(await session.scalars(select(Notification))) == []
        told = aprova.slack.messages(aprova.slack.dm_channel(REQUESTER))
        assert any("código" in m["text"] for m in told)  # an error id to quote
        # Slack answers again: the same form goes through.
        aprova.slack.clear_failures()
        response = await aprova.submit(view, **with_matching_boleto(VALID_ANSWERS | big, big))
        assert response.status_code == 200 and response.text == ""


async def test_a_rate_limited_user_group_is_not_taken_for_an_empty_one(session_factory, clock):
    async with running_aprova(session_factory, clock) as aprova:
        view = await aprova.open_modal()
        for _ in range(10):
            aprova.slack.fail_next("usergroups.users.list", error="ratelimited", retry_after=0)
        big = {"amount": "12.000,00"}
        response = await aprova.submit(view, **with_matching_boleto(VALID_ANSWERS | big, big))
        assert response.status_code == 500  # not planned with the fallback approvers in the group's place
        assert await flows_count(session_factory) == 0


async def flows_count(session_factory) -> int:
    from ledger.models import PaymentRequest

    async with session_factory() as session:
        return len(list(await session.scalars(select(PaymentRequest.id))))


async def test_background_work_lets_requests_being_answered_go_first():
    answering = Answering()
    assert await asyncio.wait_for(answering.quiet(60), 5)  # nothing being answered: at once
    with answering.one(), answering.one():
        waiting = asyncio.create_task(answering.quiet(60))
        await asyncio.sleep(0)
        assert not waiting.done()
    assert await asyncio.wait_for(waiting, 5)  # both answered: it goes on
    with answering.one():
        # Never longer than it was told; "not quiet" tells the worker to take a smaller batch.
        assert not await asyncio.wait_for(answering.quiet(0), 5)
