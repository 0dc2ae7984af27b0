"""What the person sees when a listener raises: one place for every refusal and every surprise.

- A ``LedgerError`` is a refusal the person can understand (not theirs to decide, already decided, no approver…):
  in a modal not yet answered it becomes the modal's errors or a notice in its place; otherwise an ephemeral reply
  where they acted, or a DM.
- Anything else is a bug or an outage: logged with a short id, and the person told "internal error, code …" so
  the operator can find the line. A modal not yet answered is left to Bolt's 500, which makes Slack show its own
  error and keep what was typed.

Listeners are registered through :class:`Listeners`, which runs each one inside :func:`guarded`. Catching there,
rather than in Bolt's error handler, matters: Bolt forgets an ack made just before the listener raised.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.kwargs_injection.async_args import AsyncArgs
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.i18n import t
from bot.blocks.reject_modal import build_notice_modal
from bot.blocks.request_modal import field_errors
from bot.deps import Deps
from bot.middleware import Actor, explain_refusal, tell
from ledger.errors import InvalidSubmission, LedgerError

log = logging.getLogger(__name__)

Listener = Callable[..., Awaitable[None]]


def guarded(listener: Listener, running: set[asyncio.Task[Any]]) -> Callable[[AsyncArgs], Awaitable[None]]:
    """``listener`` with its arguments injected as Bolt would, and whatever it raises answered to the person;
    its task is in ``running`` while it runs (Bolt runs it on after the ack)."""
    names = inspect.getfullargspec(listener).args

    async def run(args: AsyncArgs) -> None:
        kwargs = {name: getattr(args, name) if hasattr(args, name) else args.context.get(name) for name in names}
        task = asyncio.current_task()
        if task is not None:
            running.add(task)
        try:
            await listener(**kwargs)
        except LedgerError as error:
            await _refuse(error, args)
        except Exception as error:
            if args.ack.response is None and args.body.get("type") == "view_submission":
                raise  # Bolt answers 500 and calls handle_bolt_error
            error_id = log_unexpected(error, args.body)
            if args.ack.response is None:
                await args.ack()
            actor = args.context.get("actor")
            if isinstance(actor, Actor):
                await tell(args.client, actor, t(actor.locale, "notice.unexpected", error_id=error_id))
        finally:
            running.discard(task)

    # Named like the listener for Bolt's logs; no __wrapped__, or Bolt would inject the listener's arguments.
    run.__name__, run.__qualname__ = listener.__name__, listener.__qualname__
    return run


async def _refuse(error: LedgerError, args: AsyncArgs) -> None:
    deps, actor = args.context["deps"], args.context["actor"]
    ref = args.context.get("ref")
    request_id = getattr(ref, "request_id", None) or error.params.get("request_id")
    log.info("refused %s for %s on request %s: %s", _what(args.body), actor.user_id, request_id, error.code)
    unanswered = args.ack.response is None
    if unanswered and args.body.get("type") == "view_submission":
        if isinstance(error, InvalidSubmission):
            await args.ack(response_action="errors", errors=field_errors(error, actor.locale))
            return
        text = await explain_refusal(deps, actor, error, request_id=request_id)
        await args.ack(response_action="update", view=build_notice_modal(text, locale=actor.locale))
        return
    if unanswered:
        await args.ack()
    await tell(args.client, actor, await explain_refusal(deps, actor, error, request_id=request_id))


async def handle_bolt_error(
    error: Exception,
    body: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    response: BoltResponse | None = None,
) -> BoltResponse | None:
    """Bolt's error handler: a middleware failed, or a modal's listener failed before answering.

    A modal keeps Bolt's 500 (Slack keeps the form); anything else is answered 200, the person told in words."""
    error_id = log_unexpected(error, body)
    actor = context.get("actor")
    if isinstance(actor, Actor) and isinstance(context.get("deps"), Deps):
        await tell(client, actor, t(actor.locale, "notice.unexpected", error_id=error_id))
    if response is None or body.get("type") == "view_submission":
        return None
    return BoltResponse(status=200, body="")


def log_unexpected(error: Exception, body: dict[str, Any]) -> str:
    """One log line with the traceback and a short id the person is also given."""
    error_id = uuid.uuid4().hex[:8]
    user = body.get("user")
    log.error(
        "unexpected error %s handling %s from %s",
        error_id,
        _what(body),
        (user.get("id") if isinstance(user, dict) else None) or body.get("user_id"),
        exc_info=error,
    )
    return error_id


def _what(body: dict[str, Any]) -> str:
    return str(body.get("command") or body.get("type") or "a request")


class Listeners:
    """The Bolt app as handler modules see it: each listener registered here runs :func:`guarded`."""

    def __init__(self, app: AsyncApp) -> None:
        self.app = app
        self.running: set[asyncio.Task[Any]] = set()

    async def settle(self, timeout: float) -> bool:
        """Wait for the listeners still running after their acks; False on timeout. For drivers of an in-process
        app (the tests, the benchmark) that must not look before the work is done."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while pending := [task for task in self.running if not task.done()]:
            if (remaining := deadline - loop.time()) <= 0:
                return False
            await asyncio.wait(pending, timeout=remaining)
        return True

    def action(self, action_id: str, *, middleware: Sequence[Callable[..., Any]] = ()) -> Callable[[Listener], Any]:
        return self._guard(self.app.action(action_id, middleware=list(middleware)))

    def view(self, callback_id: str, *, middleware: Sequence[Callable[..., Any]] = ()) -> Callable[[Listener], Any]:
        return self._guard(self.app.view(callback_id, middleware=list(middleware)))

    def command(self, command: str, *, middleware: Sequence[Callable[..., Any]] = ()) -> Callable[[Listener], Any]:
        return self._guard(self.app.command(command, middleware=list(middleware)))

    def options(self, action_id: str) -> Callable[[Listener], Any]:
        return self._guard(self.app.options(action_id))

    def event(self, event_type: str) -> Callable[[Listener], Any]:
        return self._guard(self.app.event(event_type))

    def _guard(self, register: Callable[..., Any]) -> Callable[[Listener], Any]:
        return lambda listener: register(guarded(listener, self.running))
