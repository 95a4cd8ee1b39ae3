"""Group commit: concurrent writes share one transaction and one durable commit.

A notification or activity is acknowledged only once it is committed, and a commit costs an
fsync (SQLite in WAL mode, synchronous=FULL) or a WAL flush (PostgreSQL). One commit per
request capped a process at a few hundred writes a second and, under eventlet, SQLite's fsync
stalled every socket of the process while it lasted. Here the requests that arrive while a
commit is under way queue up; the next one to find no commit in progress (the *leader*) writes
the whole queue in one transaction, commits once, publishes each write's events in commit
order, and hands the lead to the oldest request still waiting. Nothing is acknowledged before
its commit, so durability is unchanged.

What each write promises is kept:
- ids increase in commit order: the rows of a batch are inserted in queue order in one
  transaction; PostgreSQL's per-stream advisory locks (services/ordering.py) are all taken
  first, in sorted order, so batches in several processes cannot deadlock;
- live events go out in commit order: only the leader publishes, after its commit and before
  the next batch can start;
- idempotency: each write looks up its key inside the batch's transaction (so it also sees a
  repeat earlier in the same batch) and adds its record there;
- one bad write does not fail the others: when a write raises inside the batch (say, another
  process inserted the same Idempotency-Key first), the batch is rolled back and its writes are
  redone one transaction each, exactly as they would have been alone.

Under eventlet, a SQLite commit (the fsync) runs in eventlet's thread pool so the hub keeps
serving sockets meanwhile; sqlite3 releases the GIL while it waits on the disk.
"""
import logging
import threading

from ..errors import AppError
from ..extensions import db
from .idempotency import Outcome, durable_commit, record_outcome, replay, run_once
from .ordering import lock_stream_keys

log = logging.getLogger(__name__)
MAX_BATCH = 256


class Write:
    """One request's write: its key, what it stores, the stream locks it needs, what it publishes."""

    __slots__ = ("key", "status", "store", "locks", "publish", "outcome", "error", "lead",
                 "finished", "wake")

    def __init__(self, key, status, store, locks, publish):
        self.key = key
        self.status = status
        self.store = store          # () -> response body; adds rows to db.session
        self.locks = locks          # [(stream, keys)]
        self.publish = publish      # (body) -> None; after commit, only when fresh
        self.outcome = None
        self.error = None
        self.lead = False
        self.finished = False
        self.wake = threading.Event()

    def finish(self, outcome=None, error=None):
        self.outcome, self.error, self.finished = outcome, error, True


class GroupCommit:
    """The queue of writes waiting for a commit, and who leads the next one."""

    def __init__(self):
        self._mutex = threading.Lock()
        self._queue = []
        self._leading = False
        self.batches = 0
        self.writes = 0

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
        fresh = []
        try:
            lock_stream_keys(key for write in batch for key in write.locks)
            for write in batch:
                if write.key is not None:
                    try:
                        previous = replay(write.key)
                    except AppError as exc:     # 409: the key was used for another body
                        write.finish(error=exc)
                        continue
                    if previous is not None:
                        write.finish(previous)
                        continue
                body = write.store()
                if write.key is not None:
                    record_outcome(write.key, write.status, body)
                write.outcome = Outcome(write.status, body, fresh=True)
                fresh.append(write)
        except Exception:
            db.session.rollback()
            log.info("a write failed inside a batch of %d; writing them one by one", len(batch),
                     exc_info=True)
            self._one_by_one(batch)
            return
        try:
            durable_commit()
        except BaseException as exc:
            db.session.rollback()
            for write in fresh:
                write.finish(error=exc if isinstance(exc, Exception) else RuntimeError("commit interrupted"))
            raise
        for write in fresh:
            write.finish(write.outcome)
            self._publish(write)

    def _one_by_one(self, batch):
        for write in batch:
            write.outcome = write.error = None
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


def _store_alone(write):
    lock_stream_keys(write.locks)
    return write.store()


_groups = {}
_groups_lock = threading.Lock()


def group_for(app):
    """The app's GroupCommit (one per app: tests build several apps in one process)."""
    group = app.extensions.get("devtracker.group_commit")
    if group is None:
        with _groups_lock:
            group = app.extensions.setdefault("devtracker.group_commit", GroupCommit())
    return group


def commit_write(key, status, store, locks=(), publish=None):
    """Store a write with the others waiting, commit, publish in commit order; return its Outcome.

    `store()` adds the write's rows to db.session and returns the response body; `locks` are
    the (stream, keys) it needs on PostgreSQL; `publish(body)` sends its live events, once,
    after the commit (never for a replayed answer)."""
    from flask import current_app

    write = Write(key, status, store, list(locks), publish or (lambda body: None))
    return group_for(current_app._get_current_object()).submit(write)
