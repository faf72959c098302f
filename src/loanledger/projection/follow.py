"""Following the store: keep the read models caught up in the background.

A `Follower` loops: catch up, then wait until a `Waker` says something was recorded, or the poll
interval has passed, or it is told to stop. On PostgreSQL the waker is a `ListenWaker`: its own
connection LISTENs on the channel eventsourcing's recorder NOTIFYs inside every insert
transaction, so a follower wakes as soon as a write commits. Other stores have no NOTIFY and
only poll.

Polling never stops, even with a waker: a NOTIFY can be lost (the listener's connection died,
the server restarted, the channel is wrong), and the poll then still catches up. A listener that
fails is logged, closed and reopened on a later loop (with a backoff, so an unreachable server is
not hammered); a freshly opened listener counts as a wake, since notifications sent before its
LISTEN are lost to it. A catch-up that fails is logged and tried again at the next wake or poll.
Nothing but stopping ends the loop.

PostgreSQL sends a NOTIFY to every listener of the channel in the database, and eventsourcing
names the channel after the events table, not its schema: a follower also wakes for writes to
other schemas' ledgers in the same database. That costs an empty catch-up, never a wrong one.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from time import monotonic
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

STOP_CHECK_SECONDS = 0.2
"""Longest a waker blocks at once, so that a follower notices `stop` within about this long."""

RETRY_FIRST_SECONDS = 0.5
"""Wait after a listener fails before reopening it; doubled after each further failure, up to
the poll interval."""

APPLICATION_NAME = "loanledger-follow"
"""`application_name` of the listener's connection, so a DBA can tell it apart."""


class Waker(ABC):
    """Something that tells a follower that events may have been recorded."""

    @abstractmethod
    def wait(self, timeout: float) -> bool:
        """Block at most `timeout` seconds; True when woken (catch up now), False on timeout.
        May raise when the waker broke; the follower logs it and calls `wait` again later."""

    def close(self) -> None:  # noqa: B027 - a waker without resources needs no close
        """Release what the waker holds (the follower calls this when it stops)."""


class ListenWaker(Waker):
    """Wakes on PostgreSQL NOTIFY on `channel`, over a dedicated autocommit connection.

    The connection is opened lazily by `wait`, which then returns True at once (notifications
    sent before the LISTEN are lost to it, so the follower must look); after a failure it is
    closed and the next `wait` opens a new one. TCP keepalives let a silently dropped connection
    fail too, instead of waiting forever (the poll covers the meantime).
    """

    def __init__(self, connection: Mapping[str, Any], channel: str) -> None:
        self._keywords = dict(connection)
        self.channel = channel
        self._connection: psycopg.Connection[Any] | None = None

    @property
    def backend_pid(self) -> int | None:
        """The listening server process (None while not connected), e.g. for monitoring."""
        connection = self._connection
        if connection is None or connection.closed:
            return None
        return int(connection.info.backend_pid)

    def wait(self, timeout: float) -> bool:
        connection = self._connection
        if connection is None or connection.closed:
            self._connection = self._listen()
            return True
        try:
            woken = any(True for _ in connection.notifies(timeout=timeout, stop_after=1))
            if woken:
                # One catch-up serves every write so far: drop the notifications queued behind.
                for _ in connection.notifies(timeout=0):
                    pass
            return woken
        except BaseException:
            self.close()
            raise

    def _listen(self) -> psycopg.Connection[Any]:
        import psycopg
        from psycopg import sql

        connection = psycopg.connect(
            **self._keywords,
            autocommit=True,
            application_name=APPLICATION_NAME,
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        )
        try:
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except BaseException:
            connection.close()
            raise
        return connection

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # a dead connection may fail to close; it is gone either way
                logger.debug("closing the projection listener failed", exc_info=True)


class Follower:
    """Runs `catch_up` until stopped: after each catch-up, waits for a wake or the poll."""

    def __init__(
        self,
        catch_up: Callable[[], int],
        *,
        poll_seconds: float = 1.0,
        wake: Waker | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if not poll_seconds > 0:
            raise ValueError(f"poll_seconds must be positive, got {poll_seconds!r}")
        self._catch_up = catch_up
        self.poll_seconds = poll_seconds
        self.wake = wake
        self.on_batch = on_batch
        self._retry = RETRY_FIRST_SECONDS

    def run(self, stop: threading.Event) -> int:
        """Follow until `stop` is set; return how many events were projected. The waker is
        closed on the way out. Only a `BaseException` that is not an `Exception` (such as
        KeyboardInterrupt) escapes; everything else is logged."""
        projected = 0
        try:
            while not stop.is_set():
                projected += self._step()
                self._wait(stop)
        finally:
            if self.wake is not None:
                self.wake.close()
        return projected

    def _step(self) -> int:
        try:
            processed = self._catch_up()
        except Exception:
            logger.exception("projection catch-up failed; trying again at the next wake or poll")
            return 0
        if processed and self.on_batch is not None:
            try:
                self.on_batch(processed)
            except Exception:
                logger.exception("the follower's on_batch callback failed")
        return processed

    def _wait(self, stop: threading.Event) -> None:
        """Until woken, the poll interval has passed, or `stop` is set."""
        deadline = monotonic() + self.poll_seconds
        while not stop.is_set():
            remaining = deadline - monotonic()
            if remaining <= 0:
                return
            if self.wake is None:
                stop.wait(remaining)
                continue
            try:
                if self.wake.wait(min(remaining, STOP_CHECK_SECONDS)):
                    return
            except Exception as error:
                retry = min(remaining, self._retry)
                logger.warning(
                    "projection listener failed (%s); polling meanwhile, reopening it in %.1f s",
                    error,
                    retry,
                )
                self._retry = min(self._retry * 2, max(self.poll_seconds, RETRY_FIRST_SECONDS))
                stop.wait(retry)
                return
            self._retry = RETRY_FIRST_SECONDS
