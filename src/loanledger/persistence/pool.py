"""Connection pools that get over a PostgreSQL restart quickly.

A server restart (or a failover) kills every pooled connection at once, and psycopg_pool on its
own is slow to notice and slow to come back:

- A pool that checks each connection when it is taken (pre-ping) finds them dead one by one and
  pauses before trying the next (1 s, then 2 s, 4 s, ...): with five dead connections the first
  command after a restart waited ~7 s or timed out (measured). Here the first dead connection
  found drains the whole pool instead, so the command gets a fresh connection at once.
- While the server is down, the pool keeps trying to reconnect in the background with growing
  pauses for up to 5 minutes, so after a long outage the next attempt could come long after the
  server is back. Here the pool gives up after `reconnect_timeout` (the URL's connect_timeout)
  and connects again when the next command asks, so a command after the outage connects at once.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Generic, TypeVar

from psycopg import Connection
from psycopg_pool import ConnectionPool

C = TypeVar("C")


def survive_restarts(pool: ConnectionPool[Any], *, reconnect_timeout: float) -> bool:
    """Make `pool` check each connection it hands out, drain itself when one is dead, and stop
    reconnecting in the background after `reconnect_timeout` seconds.

    Returns False (and only sets the reconnect timeout) if this psycopg_pool keeps its
    connection check elsewhere.
    """
    pool.reconnect_timeout = reconnect_timeout
    if not hasattr(pool, "_check"):
        return False
    owner = weakref.ref(pool)  # the pool holds the check: no reference cycle

    def check(connection: Connection[Any]) -> None:
        try:
            ConnectionPool.check_connection(connection)
        except Exception:
            drained = owner()
            if drained is not None:
                drained.drain()
            raise

    pool._check = check
    return True


class HeldConnections(Generic[C]):
    """A pooled connection held by a thread for the length of a block (`hold`), which
    `connection()` then gives instead of taking one from the pool: taking one checks it with a
    round trip to the server, which a catch-up paid for every page and every statement. A held
    connection broken meanwhile fails what meets it, as it would have failed it anyway; the pool
    replaces it when the block gives it back. Blocks nest (the outer one holds)."""

    def __init__(self, acquire: Callable[[], AbstractContextManager[C]]) -> None:
        self._acquire = acquire
        self._held = threading.local()

    @contextmanager
    def hold(self) -> Iterator[None]:
        if getattr(self._held, "connection", None) is not None:
            yield
            return
        with self._acquire() as connection:
            self._held.connection = connection
            try:
                yield
            finally:
                self._held.connection = None

    def connection(self) -> AbstractContextManager[C]:
        """The thread's held connection, or one taken from the pool for this use."""
        held: C | None = getattr(self._held, "connection", None)
        return nullcontext(held) if held is not None else self._acquire()
