"""Blocking calls off eventlet's hub, one at a time, on one OS thread of their own.

SQLite's commit blocks in its fsync, so under eventlet it runs on another thread while the hub
keeps serving sockets. eventlet's `tpool.execute` does that through two locked queues, a
socket pair and a dispatcher green thread: ~160 µs of CPU per call measured here, which at
one commit per request was an eighth of a notification's cost. Group commit only ever has one
commit in flight per process, so one thread, a lock-free C queue and an eventfd are enough.

The waiting green thread cannot abandon a call: if it is killed while the thread is still in
the call (the connection is in use there), it waits for the call to end, then dies.
"""
import os
import sys
import threading

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
