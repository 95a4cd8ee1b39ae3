"""Client processes: each runs one asyncio loop holding its share of the sockets.

The parent talks to a worker over a multiprocessing pipe, one command at a time (a small
thread in the worker reads the pipe and runs each command on the loop). Receive timestamps
stay in the worker until the parent drains them, as compact arrays. Progress (sockets ready,
deliveries received) is published in a shared array the parent reads for its status line.
"""
import asyncio
import gc
import os
import resource
import threading
import time
from array import array

import servers  # noqa: F401  (first: it puts the repository root on sys.path)
from bulk import BulkPoller, BulkSocket
from tests.support.lean import LeanSocket

DELIVERY_EVENTS = ("system:bench", "task:updated", "notification")
PRESENCE_EVENTS = ("user:online", "presence:update", "user:offline")
CONNECT_ATTEMPTS = 3


def raise_open_files(wanted=65536):
    """Lift the soft open-file limit towards `wanted` (every socket is a descriptor)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Worker:
    def __init__(self, index, conn, counters):
        self.index = index
        self.conn = conn
        self.counters = counters          # shared doubles: [ready, deliveries] per worker
        self.sockets = []
        self.handlers = {}                # shared by every socket of this worker
        self.seqs, self.sent, self.recv = array("q"), array("d"), array("d")
        self.presence = []
        self.delivered = 0
        self.poller = BulkPoller()        # the bulk sockets' reader and counts (bulk.py)
        self.loop = None

    # --- event handlers (called from LeanSocket._read) ----------------------------------------
    def _on_delivery(self, sock, payload, at):
        body = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(body, dict) or "seq" not in body:
            body = payload.get("task") if isinstance(payload, dict) else None
        if isinstance(body, dict) and "seq" in body:
            self.seqs.append(int(body["seq"]))
            self.sent.append(float(body.get("sentAt", 0.0)))
            self.recv.append(at)
            self.delivered += 1

    def _on_presence(self, name):
        def handler(sock, payload, at):
            if isinstance(payload, dict):
                self.presence.append((name, payload.get("userId"), payload.get("devices"), at))
                self.delivered += 1
        return handler

    def watch(self, events):
        self.handlers.clear()
        for name in events:
            self.handlers[name] = (self._on_delivery if name in DELIVERY_EVENTS
                                   else self._on_presence(name))
        # Bulk sockets count every frame with a "seq" while a delivery event is watched; they
        # never report presence (a storm's N² presence frames are skipped by a scan).
        self.poller.counting = any(name in DELIVERY_EVENTS for name in events)
        self.poller.prefixes = tuple(b'42["' + name.encode() + b'"' for name in events
                                     if name in DELIVERY_EVENTS)
        return sorted(self.handlers)

    def drain(self):
        out = {"seqs": self.seqs.tobytes(), "sent": self.sent.tobytes(), "recv": self.recv.tobytes(),
               "presence": self.presence, "bulk": self.poller.drain()}
        self.seqs, self.sent, self.recv = array("q"), array("d"), array("d")
        self.presence = []
        return out

    # --- commands ---------------------------------------------------------------------------
    async def connect(self, url, specs, concurrency=200, timeout=600):
        """Open one socket per spec {token, deflate, task?, bulk?, precise?}; each counts once
        replay:done arrived (and, with a task, once task:join was acknowledged). A `bulk` spec
        gets a `bulk.BulkSocket` (counted in bulk; timed when `precise`), others a LeanSocket."""
        gate = asyncio.Semaphore(concurrency)
        errors, opened = [], []

        async def one(spec):
            async with gate:
                for attempt in range(CONNECT_ATTEMPTS):
                    if spec.get("bulk"):
                        sock = BulkSocket(url, {"token": spec["token"]}, self.poller,
                                          deflate=spec.get("deflate", False),
                                          precise=spec.get("precise", False), task=spec.get("task"))
                    else:
                        sock = LeanSocket(url, {"token": spec["token"]}, self.handlers,
                                          deflate=spec.get("deflate", False))
                    try:
                        await sock.connect()
                        if spec.get("task") and not spec.get("bulk"):
                            ack = await sock.call("task:join", spec["task"])
                            if not (isinstance(ack, dict) and ack.get("success", True)):
                                raise ConnectionError(f"task:join refused: {ack}")
                        opened.append(sock)
                        self.sockets.append(sock)
                        return
                    except asyncio.CancelledError:
                        await sock.close()
                        raise
                    except Exception as exc:  # noqa: BLE001  (reported, then retried)
                        await sock.close()
                        if attempt == CONNECT_ATTEMPTS - 1:
                            errors.append(f"{type(exc).__name__}: {exc}"[:200])
                        else:
                            await asyncio.sleep(0.5 * (attempt + 1))

        tasks = [asyncio.create_task(one(spec)) for spec in specs]
        done, pending = await asyncio.wait(tasks, timeout=timeout) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            errors.append(f"{len(pending)} sockets still connecting after {timeout} s")
        # The sockets live until closed: out of the garbage collector's walks, whose pauses
        # would otherwise land in the latencies measured on them.
        gc.collect()
        gc.freeze()
        return {"opened": len(opened), "failed": len(specs) - len(opened), "errors": errors[:5],
                "errorCount": len(errors), "deflate": sum(s.negotiated_deflate for s in opened),
                "readyAt": [s.ready_at for s in opened]}

    async def close_all(self):
        sockets, self.sockets = self.sockets, []
        gate = asyncio.Semaphore(500)

        async def one(sock):
            async with gate:
                await sock.close()

        await asyncio.gather(*(one(s) for s in sockets), return_exceptions=True)
        gc.unfreeze()  # what connect froze can go now
        return len(sockets)

    async def churn(self, url, specs, rate, hold):
        """Open one socket per spec at `rate` per second; each closes `hold` seconds after it is
        ready. Returns per churner (userId, started, ready, closed) as time.time() values."""
        out = []

        async def one(spec, at):
            await asyncio.sleep(max(0.0, at - time.time()))
            started = time.time()
            sock = LeanSocket(url, {"token": spec["token"]}, {}, deflate=spec.get("deflate", False))
            try:
                await sock.connect()
            except Exception:  # noqa: BLE001
                await sock.close()
                out.append((spec["userId"], started, None, None))
                return
            await asyncio.sleep(hold)
            closed = time.time()
            await sock.close()
            out.append((spec["userId"], started, sock.ready_at, closed))

        start = time.time() + 0.2
        await asyncio.gather(*(one(spec, start + i / rate) for i, spec in enumerate(specs)))
        return out

    def cpu(self):
        return time.process_time()

    def health(self):
        """How many of this worker's sockets are still open; which ones the server dropped, when, why."""
        dropped = [s for s in self.sockets if s.dropped_at is not None]
        reasons = {}
        for sock in dropped:
            reasons[sock.drop_reason] = reasons.get(sock.drop_reason, 0) + 1
        return {"live": sum(1 for s in self.sockets if not s.closed and s.dropped_at is None),
                "dropped": len(dropped), "droppedAt": sorted(s.dropped_at for s in dropped),
                "openFor": [s.dropped_at - s.ready_at for s in dropped if s.ready_at],
                "reasons": reasons}

    async def publish(self, finished):
        parent = os.getppid()
        while True:
            if os.getppid() != parent and not finished.done():  # the bench died: do not linger
                finished.set_result(None)
            self.counters[2 * self.index] = sum(1 for s in self.sockets
                                                if s.ready_at and not s.closed and s.dropped_at is None)
            self.counters[2 * self.index + 1] = self.delivered + self.poller.delivered
            await asyncio.sleep(0.25)

    async def run_command(self, name, args):
        if name in ("connect", "close_all", "churn"):
            return await getattr(self, name)(*args)
        return getattr(self, name)(*args)

    async def main(self):
        self.loop = asyncio.get_running_loop()
        finished = self.loop.create_future()
        publisher = asyncio.create_task(self.publish(finished))

        def stop():
            if not finished.done():
                finished.set_result(None)

        def pipe_reader():
            while True:
                try:
                    name, args = self.conn.recv()
                except (EOFError, OSError):
                    name, args = "exit", ()
                if name == "exit":
                    self.loop.call_soon_threadsafe(stop)
                    return
                future = asyncio.run_coroutine_threadsafe(self.run_command(name, args), self.loop)
                try:
                    result = ("ok", future.result())
                except Exception as exc:  # noqa: BLE001  (sent back to the parent)
                    result = ("error", f"{type(exc).__name__}: {exc}")
                try:
                    self.conn.send(result)
                except OSError:  # the parent is gone
                    self.loop.call_soon_threadsafe(stop)
                    return

        threading.Thread(target=pipe_reader, daemon=True).start()
        await finished
        publisher.cancel()
        await self.close_all()


def worker_main(index, conn, counters):
    """Entry point of a client process."""
    raise_open_files()
    try:
        asyncio.run(Worker(index, conn, counters).main())
    except KeyboardInterrupt:
        pass


class WorkerPool:
    """The parent's handle on N client processes; spreads sockets round-robin."""

    def __init__(self, count):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self.counters = ctx.RawArray("d", 2 * count)
        self.conns, self.procs = [], []
        for i in range(count):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(i, child, self.counters), daemon=True,
                               name=f"bench-client-{i}")
            proc.start()
            self.conns.append(parent)
            self.procs.append(proc)

    def __len__(self):
        return len(self.conns)

    def call_each(self, name, per_worker_args, timeout=None):
        """Send one command to every worker (its own args), then gather the answers in order."""
        for conn, args in zip(self.conns, per_worker_args):
            conn.send((name, args))
        results = []
        for conn in self.conns:
            if timeout is not None and not conn.poll(timeout):
                raise TimeoutError(f"client process did not answer {name} within {timeout} s")
            status, value = conn.recv()
            if status != "ok":
                raise RuntimeError(f"client process failed on {name}: {value}")
            results.append(value)
        return results

    def call_all(self, name, *args, timeout=None):
        return self.call_each(name, [args] * len(self.conns), timeout)

    def split(self, items):
        return [items[i::len(self.conns)] for i in range(len(self.conns))]

    def progress(self):
        c = self.counters
        return (int(sum(c[0::2])), int(sum(c[1::2])))

    def close(self):
        for conn in self.conns:
            try:
                conn.send(("exit", ()))
            except OSError:
                pass
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
