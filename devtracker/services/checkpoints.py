"""SQLite write-ahead-log checkpoints, mostly off the commit path.

In WAL mode a commit appends to the log; a *checkpoint* copies the log back into the database
file and fsyncs it. SQLite runs one inside the commit that takes the log past 1,000 pages, and
at 700 notifications/s that commit took 40-250 ms instead of ~0.3 ms, every second or two:
every request waiting behind it took that long too.

A `Checkpointer` runs a PASSIVE checkpoint every `interval` seconds while commits keep coming,
on a connection of its own, outside the event loop. PASSIVE never waits for readers or the
writer. SQLite's own checkpoint stays: when it comes, the background one has already copied
nearly everything, so it is short, and it is what lets the next commit start the log from the
beginning again (a checkpoint running beside the writer never quite catches up with it), so
the log stays as small as it was. Durability does not change: a commit is durable once its log
append is synced (synchronous=FULL); a checkpoint only moves pages already committed.

The loop runs only while there are commits: it stops after an interval without any, and the
next commit starts it again. Nothing stays behind when an app is done (the test suite builds
hundreds).
"""
import logging
import sqlite3
import sys
import threading
import time

log = logging.getLogger(__name__)


class Checkpointer:
    """Checkpoints one SQLite database file in the background while it is written."""

    def __init__(self, path, interval, busy_timeout_ms=5000):
        self.path = path
        self.interval = interval
        self.busy_timeout_ms = busy_timeout_ms
        self._lock = threading.Lock()
        self._dirty = False
        self._running = False
        self.checkpoints = 0
        self.failures = 0

    def wrote(self, *_args):
        """A commit happened (an engine `commit` listener): make sure the loop runs."""
        with self._lock:
            self._dirty = True
            if self._running:
                return
            self._running = True
        _start(self._run)

    def _run(self):
        sleep, offload = _sleep_and_offload()
        connection = None
        try:
            while True:
                sleep(self.interval)
                with self._lock:
                    if not self._dirty:
                        self._running = False
                        break
                    self._dirty = False
                connection = offload(self.checkpoint, connection)
                if connection is None:
                    with self._lock:
                        self._running = False
                    break
        except BaseException:
            with self._lock:
                self._running = False
            raise
        finally:
            if connection is not None:
                offload(connection.close)

    def checkpoint(self, connection=None):
        """One PASSIVE checkpoint on `connection` (opened when None); returns the connection, or
        None when the database cannot be opened (it is gone)."""
        if connection is None:
            try:
                # mode=rw: never create a file that is not there (a test's database, removed).
                connection = sqlite3.connect(
                    f"file:{self.path}?mode=rw", uri=True, timeout=self.busy_timeout_ms / 1000,
                    isolation_level=None, check_same_thread=False)  # the pool's threads take turns
            except sqlite3.Error:
                return None
        try:
            busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.checkpoints += 1
            if busy:
                log.debug("checkpoint of %s was busy (%s of %s frames copied)", self.path, copied, frames)
        except sqlite3.Error as exc:
            self.failures += 1
            log.warning("checkpoint of %s failed: %s", self.path, exc)
        return connection

def _eventlet_patched():
    eventlet = sys.modules.get("eventlet")
    return eventlet is not None and eventlet.patcher.is_monkey_patched("thread")


def _start(run):
    if _eventlet_patched():
        import eventlet

        eventlet.spawn(run)
    else:  # threading: a thread; gevent: threading is patched, so a greenlet
        threading.Thread(target=run, name="sqlite-checkpoint", daemon=True).start()


def _sleep_and_offload():
    """Under eventlet, sleep on the hub and run the checkpoint in its thread pool (sqlite3 lets
    go of the GIL while it copies and syncs); elsewhere, call it where we are."""
    if _eventlet_patched():
        import eventlet
        from eventlet import tpool

        return eventlet.sleep, tpool.execute
    return time.sleep, lambda fn, *args: fn(*args)


def database_path(engine):
    """The file of a SQLite engine, or None (in-memory, or not SQLite)."""
    if engine.dialect.name != "sqlite":
        return None
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file::memory:") or "mode=memory" in path:
        return None
    return path
