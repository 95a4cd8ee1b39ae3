"""Group commit: concurrent writes share one transaction and one durable commit.

A write is acknowledged only once committed, and each commit costs an fsync (SQLite, WAL,
synchronous=FULL) or a WAL flush (PostgreSQL). Requests that arrive while a commit is under
way queue up; the first to find none in progress (the *leader*) writes the whole queue in one
transaction, commits once, publishes each write's events in commit order, and hands the lead
to the oldest request still waiting. What each write promises is kept:

- ids and each stream's `seq` follow commit order with no hole (ordering.py's locks, taken in
  sorted order so batches of several processes cannot deadlock);
- live events leave in commit order: only the leader publishes, before the next batch starts;
- idempotency keys are looked up and recorded inside the batch's transaction;
- one failing write does not fail the others: the batch is rolled back and its writes are
  redone one transaction each, as they would have been alone.

Batches run on a connection of their own (`db.writer_engine`, a pool of one, kept between
batches), so the leader never waits for a connection a queued request holds; a batch that
fails closes it. A blocking commit (SQLite's fsync) may run off the event loop through
`idempotency.durable_commit`.
"""
import logging
import threading
import time

from flask import current_app

from ..errors import AppError
from ..extensions import db
from ..models.base import utcnow
from .idempotency import Outcome, durable_commit, key_reused, record_outcome, replay, run_once
from .inserts import insert_returning_ids
from .ordering import assign_seqs, lock_stream_keys

log = logging.getLogger(__name__)
MAX_BATCH = 256


class Write:
    """One request's write: its key, the rows it inserts, the stream locks it needs, what it publishes."""

    __slots__ = ("key", "status", "table", "rows", "build", "locks", "publish", "outcome", "error",
                 "finished", "wake", "same_as")

    def __init__(self, key, status, table, rows, build, locks, publish):
        self.key = key
        self.status = status
        self.table = table          # the Table its rows go to
        self.rows = rows            # [dict]: the rows, in order (created_at is set when stored)
        self.build = build          # (ids) -> the response body, from the rows' new ids
        self.locks = locks          # [(stream, keys)]
        self.publish = publish      # (body) -> None; after commit, only when fresh
        self.outcome = None
        self.error = None
        self.finished = False
        self.same_as = None         # an earlier write of the same batch with the same key
        self.wake = threading.Event()

    def finish(self, outcome=None, error=None):
        self.outcome, self.error, self.finished = outcome, error, True


class GroupCommit:
    """The queue of writes waiting for a commit, and who leads the next one.

    Batches are written on a connection of their own, taken for each batch from a pool of one
    (`db.writer_engine` of the app of the first batch)."""

    _no_engine = object()

    def __init__(self):
        self._engine = GroupCommit._no_engine
        self._connection = None  # the writer engine's connection, kept between batches
        self._mutex = threading.Lock()
        self._queue = []
        self._leading = False
        self.batches = 0
        self.writes = 0
        # Batches are led one at a time: `committing` counts those whose commit may have
        # started, `published` those whose events are all out (or that failed).
        self.committing = 0
        self.published = 0

    def submit(self, write):
        """Queue a write, wait until it is committed and published; return its Outcome."""
        with self._mutex:
            self._queue.append(write)
            lead = not self._leading
            self._leading = True
        if not lead:
            write.wake.wait()
        if not write.finished:      # we were handed the lead: our write is first in the queue
            self._lead()
        if write.error is not None:
            raise write.error
        return write.outcome

    def _lead(self):
        with self._mutex:
            batch = self._queue[:MAX_BATCH]
            del self._queue[:MAX_BATCH]
        try:
            self._run(batch)
        except BaseException as exc:  # interrupted (greenlet killed): nobody may wait forever
            for write in batch:
                if not write.finished:
                    write.finish(error=exc if isinstance(exc, Exception)
                                 else RuntimeError("the write was interrupted"))
            raise
        finally:
            for write in batch:
                write.wake.set()
            self._hand_off()

    def _hand_off(self):
        with self._mutex:
            if not self._queue:
                self._leading = False
                return
            heir = self._queue[0]
        heir.wake.set()             # not finished: it leads the next batch

    def _run(self, batch):
        self.batches += 1
        self.writes += len(batch)
        generation = self.committing = self.committing + 1
        try:
            self._run_batch(batch)
        finally:
            self.published = generation

    def wait_published(self, sleep, timeout=10.0):
        """Wait until every batch whose commit may have started by now has published its events.

        A reconnecting socket reads its replay from the database, then stops holding live events
        (realtime/delivery/gate.py). A batch committed before that read but not yet published would
        otherwise reach the socket live after the replay had sent it too: a duplicate. Returns
        False when the wait timed out."""
        generation = self.committing
        deadline = time.monotonic() + timeout
        while self.published < generation:
            if time.monotonic() > deadline:
                return False
            sleep(0.001)
        return True

    def writer(self):
        """The engine batches are written through (None: the session's connection, for an
        in-memory SQLite database)."""
        if self._engine is GroupCommit._no_engine:
            self._engine = db.writer_engine(current_app._get_current_object())
        return self._engine

    def close(self):
        """Close the batches' connection (the app is going away)."""
        self._discard_connection()
        engine, self._engine = self._engine, GroupCommit._no_engine
        if engine is not GroupCommit._no_engine and engine is not None:
            engine.dispose()

    def _writer_connection(self):
        """The connection batches are written on (None: the session's), opened when there is none."""
        if self._connection is None:
            engine = self.writer()
            if engine is None:
                return None
            self._connection = engine.connect()
        return self._connection

    def _discard_connection(self):
        """Close the kept connection (rolling back its transaction, if any); the next batch
        opens another."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # already broken: the pool has invalidated it
                log.debug("closing the batches' connection failed", exc_info=True)

    def _run_batch(self, batch):
        stored = self._write(batch, self._writer_connection())
        if not stored:
            self._one_by_one(batch)
            return
        fresh, repeats = stored
        for write in fresh:
            write.finish(write.outcome)
        for write in repeats:       # a copy of an earlier write of this batch: its first answer
            write.finish(Outcome(write.same_as.status, write.same_as.outcome.body, fresh=False))
        for write in fresh:
            self._publish(write)

    def _write(self, batch, connection):
        """Store and commit the batch on `connection` (the session when None); its (fresh,
        repeats), or None when a write failed and nothing was stored."""
        target = db.session if connection is None else connection
        try:
            if connection is not None:
                # Begun here, not on its first statement: the rows go in through the driver's
                # cursor (inserts.py), which SQLAlchemy does not see; commit() would then find
                # nothing to commit.
                connection.begin()
            fresh, repeats = self._store(batch, connection)
        except Exception:
            self._abort(target)
            log.info("a write failed inside a batch of %d; writing them one by one", len(batch),
                     exc_info=True)
            return None
        try:
            durable_commit(connection)
        except BaseException as exc:
            self._abort(target)
            error = exc if isinstance(exc, Exception) else RuntimeError("commit interrupted")
            for write in fresh + repeats:
                write.finish(error=error)
            raise
        return fresh, repeats

    def _abort(self, target):
        """Roll a failed batch back: the session's, or the kept connection's by closing it
        (it may be the reason the batch failed)."""
        if target is self._connection:
            self._discard_connection()
        else:
            target.rollback()

    @staticmethod
    def _store(batch, connection):
        """Insert the batch's new rows (one statement per table, in queue order) and the records
        of their keys; return the fresh writes and the in-batch repeats.

        The stream locks are taken before anything else; each table's rows are numbered in
        their streams (`seq`) under them, then inserted."""
        lock_stream_keys([pair for write in batch for pair in write.locks], connection)
        fresh, repeats, keyed = [], [], {}
        for write in batch:
            if write.key is not None:
                first = keyed.get(write.key.scope)
                if first is not None:
                    if first.key.fingerprint != write.key.fingerprint:
                        write.finish(error=key_reused())
                    else:
                        write.same_as = first
                        repeats.append(write)
                    continue
                try:
                    previous = replay(write.key, connection)
                except AppError as exc:     # 409: the key was used for another body
                    write.finish(error=exc)
                    continue
                if previous is not None:
                    write.finish(previous)
                    continue
                keyed[write.key.scope] = write
            fresh.append(write)
        stamp_rows(fresh)
        by_table = {}
        for write in fresh:
            by_table.setdefault(write.table, []).append(write)
        for table, writes in by_table.items():
            rows = [row for write in writes for row in write.rows]
            assign_seqs(table, rows, connection)
            ids = insert_returning_ids(table, rows, connection)
            start = 0
            for write in writes:
                body = write.build(ids[start:start + len(write.rows)])
                start += len(write.rows)
                write.outcome = Outcome(write.status, body, fresh=True)
        for write in fresh:
            if write.key is not None:
                record_outcome(write.key, write.status, write.outcome.body, connection)
        return fresh, repeats

    def _one_by_one(self, batch):
        for write in batch:
            write.outcome = write.error = write.same_as = None
            write.finished = False
            try:
                outcome = run_once(write.key, write.status, lambda w=write: _store_alone(w))
            except Exception as exc:
                write.finish(error=exc)
                continue
            write.finish(outcome)
            if outcome.fresh:
                self._publish(write)

    @staticmethod
    def _publish(write):
        try:
            write.publish(write.outcome.body)
        except Exception as exc:  # committed, but its events did not go out: that request fails
            log.exception("publishing a committed write failed")
            write.error = exc


def stamp_rows(writes):
    """created_at for every row of the batch: the time it is written, the same for all."""
    now = utcnow()
    for write in writes:
        for row in write.rows:
            row["created_at"] = now


def _store_alone(write):
    lock_stream_keys(write.locks)
    stamp_rows([write])
    assign_seqs(write.table, write.rows)
    return write.build(insert_returning_ids(write.table, write.rows))


_groups_lock = threading.Lock()


def group_for(app):
    """The app's GroupCommit (one per app: tests build several apps in one process)."""
    group = app.extensions.get("devtracker.group_commit")
    if group is None:
        with _groups_lock:
            group = app.extensions.setdefault("devtracker.group_commit", GroupCommit())
    return group


def commit_write(key, status, table, rows, build, locks=(), publish=None):
    """Insert `rows` into `table` with the other writes waiting, commit, publish in commit order.

    `build(ids)` makes the response body from the rows' new ids; `locks` are the (stream, keys)
    the rows need on PostgreSQL; `publish(body)` sends the live events, once, after the commit
    (never for a replayed answer). Returns the Outcome."""
    write = Write(key, status, table, list(rows), build, list(locks), publish or (lambda body: None))
    return group_for(current_app._get_current_object()).submit(write)
