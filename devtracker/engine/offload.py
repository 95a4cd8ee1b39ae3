"""Blocking calls off eventlet's hub, one at a time, on one OS thread of their own.

SQLite's commit blocks in its fsync; on another OS thread (sqlite3 releases the GIL) the hub
keeps serving sockets meanwhile. One thread, a lock-free C queue and an eventfd cost much less
per call than eventlet's `tpool` (two locked queues, a socket pair, a dispatcher). When the hub
has nothing else to do (`hub_is_idle`: reads the hub's timers and poll), the call runs in
place, unless one of the last 32 took over 10 ms (a stalling disk). A waiting green thread that
is killed mid-call waits for the call to end, then dies.
"""
import collections
import os
import sys
import threading
import time

_lock = threading.Lock()
_runner = None


def available():
    """True under eventlet's monkey-patching: blocking calls should then leave the hub."""
    eventlet = sys.modules.get("eventlet")
    return eventlet is not None and eventlet.patcher.is_monkey_patched("thread")


def run_off_hub(call):
    """Run `call()` off eventlet's hub: on this module's thread where Linux's eventfd is there,
    else in eventlet's thread pool."""
    if hasattr(os, "eventfd"):
        return runner().run(call)
    from eventlet import tpool

    return tpool.execute(call)


INLINE_LIMIT_SECONDS = 0.010  # after a call that took longer, calls leave the hub for a while
_recent = collections.deque(maxlen=32)  # how long the last calls took (wall time, seconds)


def run_blocking(call):
    """Run a blocking `call()`: right here when the hub has nothing else to do and none of the
    last 32 such calls took over 10 ms (a disk that stalls now and then: its calls leave the
    hub; a healthy one's fsync has a tail of 2–3 ms), else off the hub."""
    started = time.perf_counter()
    try:
        if (not _recent or max(_recent) <= INLINE_LIMIT_SECONDS) and hub_is_idle():
            return call()
        return run_off_hub(call)
    finally:
        _recent.append(time.perf_counter() - started)


IDLE_MARGIN_SECONDS = 0.002  # a timer due this soon counts as work waiting


def hub_is_idle():
    """True when eventlet's hub has nothing to run now: no timer (a ready green thread is one)
    due within IDLE_MARGIN_SECONDS, no file descriptor ready. Looks at the hub's internals;
    False where they are not the expected ones (another hub), so the caller offloads."""
    from eventlet.hubs import get_hub

    hub = get_hub()
    poll = getattr(hub, "poll", None)
    timers, pending = getattr(hub, "timers", None), getattr(hub, "next_timers", None)
    if poll is None or not hasattr(poll, "poll") or timers is None or pending is None:
        return False
    soon = hub.clock() + IDLE_MARGIN_SECONDS
    if timers and timers[0][0] <= soon:
        return False
    if any(due <= soon and not timer.called for due, timer in pending):
        return False
    return not poll.poll(0)


class Offload:
    """A worker OS thread and an eventfd the hub waits on."""

    def __init__(self, name="devtracker-offload"):
        from eventlet import patcher, semaphore

        real_threading = patcher.original("threading")
        self._jobs = patcher.original("queue").SimpleQueue()
        self._fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._turn = semaphore.Semaphore()  # green: one call in flight
        self.calls = 0
        self._thread = real_threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def _work(self):
        while True:
            job = self._jobs.get()
            try:
                job[1] = (True, job[0]())
            except BaseException as exc:  # noqa: BLE001  (handed to the caller)
                job[1] = (False, exc)
            os.eventfd_write(self._fd, 1)

    def run(self, call):
        """Run `call()` on the worker thread; the calling green thread waits, the hub does not."""
        from eventlet.hubs import trampoline

        with self._turn:
            self.calls += 1
            job = [call, None]
            self._jobs.put(job)
            interrupted = None
            while job[1] is None:
                try:
                    os.eventfd_read(self._fd)  # a signal left by an earlier call is harmless
                except BlockingIOError:
                    try:
                        trampoline(self._fd, read=True)
                    except BaseException as exc:  # noqa: BLE001  (re-raised once the call ended)
                        interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted
        ok, value = job[1]
        if ok:
            return value
        raise value


def runner():
    """The process's Offload (started on first use)."""
    global _runner
    if _runner is None:
        with _lock:
            if _runner is None:
                _runner = Offload()
    return _runner
