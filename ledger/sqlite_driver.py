"""SQLAlchemy's aiosqlite adapter, with short statements run on the event loop instead of aiosqlite's thread.

The stock adapter makes a cursor, executes, fetches and closes it as four separate hand-offs to aiosqlite's thread,
each a queue put, a thread wake-up and an event-loop wake-up. Measured, one hand-off costs several times what SQLite
spends on one of Aprova's statements (tens of µs: a row by key, a short insert). So a statement runs right here,
whole, unless it could hold the event loop:

- a ``SELECT`` that runs past ``INLINE_SELECT_BUDGET_S`` is interrupted (SQLite's progress handler) and run again in
  the thread: a report over months of requests does not stall the answers to everyone else;
- a statement that meets another process's lock (``SQLITE_BUSY``; it never waits here) is run again in the thread,
  which waits up to the busy timeout: in one process writers already take turns (``ledger.db.Sessions``);
- ``DELETE`` (the clean-up jobs, possibly many rows) always runs in the thread;
- ``COMMIT`` runs here (under WAL it appends to the log, no fsync), but SQLite's automatic checkpoint — copying the
  log into the database file, with fsyncs, on whichever commit fills it — is off: every ``CHECKPOINT_EVERY_COMMITS``
  commits a connection checkpoints in the thread instead.

An interrupted ``SELECT`` changes nothing and a busy statement did not run, so running either again is safe.
Connections, transactions and errors are otherwise the stock adapter's; server-side cursors (``stream()``) stay
stock.
"""

from __future__ import annotations

import collections
import contextlib
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

INLINE_SELECT_BUDGET_S = 0.002
CHECKPOINT_EVERY_COMMITS = 100  # per connection; SQLite's own would run one on whichever commit fills 1000 pages
_PROGRESS_EVERY = 1000  # SQLite virtual-machine steps between looks at the clock
_SQLITE_BUSY = 5
_SQLITE_INTERRUPT = 9

_Result = tuple[Any, int, int | None, list[Any]]  # description, rowcount, lastrowid, rows


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_description", "_rowcount", "_lastrowid")

    def __init__(self, adapt_connection: _OneTripConnection) -> None:
        # No driver cursor up front (the stock one asks the thread for it): each execute makes and closes its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._run(operation, () if parameters is None else parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._run(operation, seq_of_parameters, many=True)

    def _run(self, operation: str, parameters: Any, *, many: bool) -> None:
        connection: _OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        try:
            result = connection.run(operation, parameters, many)
        except Exception as error:
            connection._handle_exception(error)
        self._description, self._rowcount, self._lastrowid, rows = result
        self._rows = collections.deque(rows)

    async def _async_soft_close(self) -> None:
        return None  # nothing is open between statements

    def close(self) -> None:
        self._rows.clear()


def _statement(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Result:
    """Cursor, execute, fetch and close: the whole statement at once."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


@contextlib.contextmanager
def _waiting_for_locks(connection: sqlite3.Connection, busy_timeout_ms: int) -> Iterator[None]:
    """In the thread: another process's lock is waited for, up to the busy timeout (never on the event loop)."""
    connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    try:
        yield
    finally:
        connection.execute("PRAGMA busy_timeout=0")


def _waiting(
    connection: sqlite3.Connection, busy_timeout_ms: int, operation: str, parameters: Any, many: bool
) -> _Result:
    with _waiting_for_locks(connection, busy_timeout_ms):
        return _statement(connection, operation, parameters, many)


def _committing(connection: sqlite3.Connection, busy_timeout_ms: int) -> None:
    with _waiting_for_locks(connection, busy_timeout_ms):
        connection.commit()


def _checkpoint(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # takes what it can now; never waits for anyone


def _primary_code(error: sqlite3.Error) -> int:
    return getattr(error, "sqlite_errorcode", 0) & 0xFF  # SQLITE_BUSY_SNAPSHOT and kin are SQLITE_BUSY too


def _keyword(operation: str) -> str:
    return operation.lstrip()[:6].upper()


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_busy_timeout_ms", "_commits")
    _cursor_cls = _OneTripCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: Any, busy_timeout_ms: int) -> None:  # an aiosqlite.Connection
        super().__init__(dbapi, connection)
        self._busy_timeout_ms = busy_timeout_ms
        self._commits = 0

    def run(self, operation: str, parameters: Sequence[Any], many: bool) -> _Result:
        return await_(self._run(operation, parameters, many))

    async def _run(self, operation: str, parameters: Sequence[Any], many: bool) -> _Result:
        raw: sqlite3.Connection = self._connection._conn
        keyword = _keyword(operation)
        if keyword != "DELETE":
            reading = keyword == "SELECT" and not many
            if reading:
                deadline = time.perf_counter() + INLINE_SELECT_BUDGET_S
                raw.set_progress_handler(lambda: time.perf_counter() > deadline, _PROGRESS_EVERY)
            try:
                return _statement(raw, operation, parameters, many)
            except sqlite3.OperationalError as error:
                code = _primary_code(error)
                if not (code == _SQLITE_BUSY or (reading and code == _SQLITE_INTERRUPT)):
                    raise
            finally:
                if reading:
                    raw.set_progress_handler(None, 0)
        return await self._in_thread(_waiting, raw, self._busy_timeout_ms, operation, parameters, many)  # type: ignore[no-any-return]

    def _in_thread(self, function: Any, *args: Any) -> Any:
        connection: Any = self._connection  # aiosqlite's _execute runs a function in its thread
        return connection._execute(function, *args)

    def commit(self) -> None:
        self._end_transaction(self._commit)

    def rollback(self) -> None:
        self._end_transaction(self._rollback)

    def _end_transaction(self, end: Callable[[], Awaitable[None]]) -> None:
        if self._connection._connection:
            try:
                await_(end())
            except Exception as error:
                self._handle_exception(error)

    async def _commit(self) -> None:
        raw: sqlite3.Connection = self._connection._conn
        try:
            raw.commit()  # under WAL with synchronous=NORMAL, an append to the WAL: no fsync
        except sqlite3.OperationalError as error:
            if _primary_code(error) != _SQLITE_BUSY:
                raise
            await self._in_thread(_committing, raw, self._busy_timeout_ms)
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY_COMMITS:  # the WAL copied back into the database, fsyncs and all
            self._commits = 0
            await self._in_thread(_checkpoint, raw)

    async def _rollback(self) -> None:
        self._connection._conn.rollback()  # nothing to write: no reason to leave the loop


class OneTripDbapi(AsyncAdapt_aiosqlite_dbapi):
    """Pass as ``module=`` to ``create_async_engine`` for an ``sqlite+aiosqlite`` URL. ``busy_timeout_ms``: how long
    a statement waits (in the thread) for another process's lock; statements run here never wait."""

    def __init__(self, busy_timeout_ms: int) -> None:
        super().__init__(aiosqlite, sqlite3)
        self.busy_timeout_ms = busy_timeout_ms

    def connect(self, *args: Any, **kwargs: Any) -> AsyncAdapt_aiosqlite_connection:
        # Made in aiosqlite's thread and used from the event loop's too, never from both at once (SQLAlchemy hands a
        # connection to one task at a time): hence check_same_thread off.
        kwargs["check_same_thread"] = False
        kwargs["timeout"] = 0
        stock = super().connect(*args, **kwargs)
        connection = _OneTripConnection(self, stock._connection, self.busy_timeout_ms)
        connection.run("PRAGMA wal_autocheckpoint=0", (), False)  # checkpoints are ours, in the thread
        return connection
