"""`load(path, workers=N)`: a journal's lines checked and applied by N Dask workers, stored in bulk.

The journal is cut into segments at its barriers: `close_day` lines and book commands (the
policy, the staff register, products...: facts every loan reads), a line that does not parse,
and every `SEGMENT_LINES` lines (to bound memory). Within a segment each loan's lines depend
only on that loan, so the segment's lines are split by loan into N partitions (the stable hash
of `projection/partitions.py`) and each is a Dask task: it opens the store, runs its lines in
file order on loans in memory (what `load` does, `Commands._stage`), stops at its first refused
line, and returns each applied line's events sealed into their loans' hash chains (the chain is
per loan, so a worker seals its loans' events on its own; new people's data keys are stored
first, as a single load does).

The coordinator then keeps what the single-process load would have kept: the lines before the
first refused line of the segment *in file order*. It writes their events in file order (so
the log's global order, its notification ids and the transparency log's leaves are the single
load's order), in chunks that never split a line, with binary `COPY` on PostgreSQL
(`persistence/bulk.py`); then it raises the refusal as `line N: ...`, or runs the barrier (a
close of day, a book command) itself and goes on with the next segment. If another writer
stored an event for one of the segment's loans meanwhile, the chunk conflicts and the segment's
remaining lines are run one by one through `execute`, as the single-process load replays a
batch that lost a race.

References stay idempotent and a refusal's message is the single load's: the workers run the
same code on the same loans. Recorded times are each worker's clock readings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from loanledger.application.journal import numbered_lines, parse_line
from loanledger.application.partitioned import check_workers, dask_client, open_in_worker
from loanledger.domain.book_commands import BOOK_COMMANDS, BookCommand
from loanledger.domain.commands import CloseDay, Command, parse_command
from loanledger.domain.errors import DomainError
from loanledger.persistence.bulk import write_events
from loanledger.persistence.ids import loan_uuid
from loanledger.persistence.personal_data import subjects_of
from loanledger.projection.partitions import partition_of

if TYPE_CHECKING:
    from loanledger.application.ledger import LoanLedger

CHUNK_EVENTS = 2000
"""Events the coordinator writes in one transaction at most (a line's events are never split)."""

SEGMENT_LINES = 50_000
"""Lines run at once at most: a longer stretch is cut here too (its lines before the cut are
stored first, as before a barrier), which bounds the events the coordinator holds."""

Line = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class StageTask:
    url: str
    lines: list[Line]
    """The partition's lines of one segment, in file order."""


@dataclass
class Staged:
    """What a worker made of its lines: each applied line's sealed events, and the first
    refusal (its line number and error)."""

    applied: list[tuple[int, list[StoredEvent]]] = field(default_factory=list)
    refused: tuple[int, DomainError] | None = None


def stage_lines(task: StageTask) -> Staged:
    """Check and apply the task's lines on loans in memory; seal their events (not stored)."""
    from loanledger.application.commands import _LoadBatch

    ledger = open_in_worker(task.url)
    try:
        return _stage(ledger, _LoadBatch(for_load=True), task.lines)
    finally:
        ledger.close()


def _stage(ledger: LoanLedger, batch: Any, lines: Sequence[Line]) -> Staged:
    staged = Staged()
    counts: list[tuple[int, str, int]] = []
    for number, data in lines:
        try:
            command = parse_command(data)
            assert not isinstance(command, CloseDay | BookCommand)  # run by the coordinator
            loan_id = command.loan_id
            held = batch.loan(loan_id)
            before = held.checkpoint()[1] if held is not None else 0
            ledger._stage(command, batch)
        except DomainError as error:
            staged.refused = (number, error)
            break
        counts.append((number, loan_id, batch.loans[loan_id].checkpoint()[1] - before))
    pending = {
        loan_id: list(loan.collect_events())
        for loan_id, loan in batch.loans.items()
        if loan.has_pending_events
    }
    events = []
    taken: dict[str, int] = {}
    by_line: list[tuple[int, int]] = []
    for number, loan_id, count in counts:
        start = taken.get(loan_id, 0)
        events.extend(pending[loan_id][start : start + count] if count else [])
        taken[loan_id] = start + count
        by_line.append((number, count))
    ledger.data_keys.ensure(subjects_of(events))
    sealed, _ = ledger._seal([ledger.mapper.to_stored_event(event) for event in events])
    position = 0
    for number, count in by_line:
        staged.applied.append((number, sealed[position : position + count]))
        position += count
    return staged


def load_partitioned(
    ledger: LoanLedger,
    source: str | PathLike[str] | Iterable[str],
    workers: int,
    scheduler: str | None = None,
) -> dict[str, Any]:
    """`load` with the lines of each segment run by `workers` Dask tasks (module docstring)."""
    check_workers(workers, ledger.settings.kind)
    applied = 0
    owners: dict[int, str] = {}
    """The loan of each line of the current segment."""
    with dask_client(workers, scheduler) as client:
        segment: list[Line] = []
        for number, line in numbered_lines(source):
            parsed: Command | CloseDay | BookCommand | None = None
            try:
                data = parse_line(line)
                # A loan's command is validated by its worker (a refusal there stops the load
                # at its line, as here); barriers and what names no loan are parsed here.
                loan_id = data.get("loan_id")
                name = data.get("command")
                if not isinstance(loan_id, str) or name == "close_day" or name in BOOK_COMMANDS:
                    parsed = parse_command(data)
            except DomainError as error:
                applied += _segment(ledger, client, segment, owners, workers)
                raise type(error)(f"line {number}: {error}") from error
            if isinstance(parsed, CloseDay | BookCommand):
                applied += _segment(ledger, client, segment, owners, workers)
                segment, owners = [], {}
                try:
                    if isinstance(parsed, CloseDay):
                        ledger.close_day(parsed.on)
                    else:
                        ledger.book.execute(parsed)
                except DomainError as error:
                    raise type(error)(f"line {number}: {error}") from error
                applied += 1
                continue
            segment.append((number, data))
            owners[number] = parsed.loan_id if parsed is not None else str(loan_id)
            if len(segment) >= SEGMENT_LINES:
                applied += _segment(ledger, client, segment, owners, workers)
                segment, owners = [], {}
        applied += _segment(ledger, client, segment, owners, workers)
    return {"applied": applied}


def _segment(
    ledger: LoanLedger,
    client: Any,
    lines: Sequence[Line],
    owners: dict[int, str],
    workers: int,
) -> int:
    """Run one segment's lines in partitions; store what comes before its first refusal (in
    file order) and raise that refusal; return the lines applied."""
    if not lines:
        return 0
    parts: list[list[Line]] = [[] for _ in range(workers)]
    for number, data in lines:
        try:
            part = partition_of(loan_uuid(owners[number]), workers)
        except DomainError:
            part = 0  # an id no store can hold: its worker refuses the line, with its number
        parts[part].append((number, data))
    tasks = [StageTask(ledger.settings.url, part) for part in parts if part]
    results: list[Staged] = client.gather(client.map(stage_lines, tasks, pure=False))
    refusals = [result.refused for result in results if result.refused is not None]
    first = min(refusals, key=lambda refused: refused[0]) if refusals else None
    stop = first[0] if first is not None else lines[-1][0] + 1
    kept = sorted(
        (item for result in results for item in result.applied if item[0] < stop),
        key=lambda item: item[0],
    )
    written = [0]
    try:
        _write(ledger, kept, written)
    except IntegrityError:
        # Another writer stored an event for one of these loans: the segment's lines not yet
        # stored are run again one by one on the stored loans, as a single load replays.
        stored = sum(1 for number, _ in kept if number <= written[0])
        return stored + _replay(ledger, [line for line in lines if line[0] > written[0]])
    if first is not None:
        number, error = first
        raise type(error)(f"line {number}: {error}") from error
    return len(kept)


def _write(
    ledger: LoanLedger, kept: Sequence[tuple[int, list[StoredEvent]]], written: list[int]
) -> None:
    """Write the kept lines' events in chunks; `written[0]` is the last line stored."""
    chunk: list[StoredEvent] = []
    last = 0
    for number, events in kept:
        if chunk and len(chunk) + len(events) > CHUNK_EVENTS:
            _flush(ledger, chunk)
            written[0] = last
            chunk = []
        chunk.extend(events)
        last = number
    _flush(ledger, chunk)
    written[0] = last


def _flush(ledger: LoanLedger, chunk: list[StoredEvent]) -> None:
    write_events(ledger.recorder, chunk)
    for originator_id in {event.originator_id for event in chunk}:
        ledger._loan_events.touch(UUID(str(originator_id)))


def _replay(ledger: LoanLedger, lines: Sequence[Line]) -> int:
    for number, data in lines:
        try:
            ledger.execute(data)
        except DomainError as error:
            raise type(error)(f"line {number}: {error}") from error
    return len(lines)
