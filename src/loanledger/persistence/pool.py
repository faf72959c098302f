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

import weakref
from typing import Any

from psycopg import Connection
from psycopg_pool import ConnectionPool


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
