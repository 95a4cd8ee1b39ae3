"""The servers under test: the real DevTracker server and the two references.

Each is started by the bench on a free port of 127.0.0.1 and stopped by it. All three speak
the same socket protocol (handshake `auth: {token}`, `replay:done` when ready, `task:join`
with an ack); only their REST triggers differ, and those are wrapped here.
"""
import json
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # the bench's scripts import the test suite's support package

from tests.support.ports import free_port  # noqa: E402
from tests.support.server import API, ServerProcess  # noqa: E402
from tests.support.tokens import mint_token  # noqa: E402

SERVER_NAMES = ("devtracker", "flask", "node")


def rss_kib(pid):
    """VmRSS of a process, KiB (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid):
    """User + system CPU time of a process, seconds (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def cpu_times():
    """The machine's CPU time so far, all cores, as {user, nice, system, idle, iowait, irq,
    softirq, steal} clock ticks (None where /proc/stat is not there)."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
        names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
        return dict(zip(names, map(int, fields[1:9]))) if fields[0] == "cpu" else None
    except (OSError, ValueError, IndexError):
        return None


def steal_percent(before, after):
    """Of the CPU time the machine's cores wanted between two `cpu_times()`, the share the
    hypervisor gave to others ("steal"): a virtual machine's latencies stretch with it."""
    if not before or not after:
        return None
    spent = {name: after[name] - before[name] for name in before}
    wanted = sum(spent[name] for name in ("user", "nice", "system", "irq", "softirq", "steal"))
    return round(100 * spent["steal"] / wanted, 1) if wanted > 0 else 0.0


def schedstat(pid):
    """(seconds on a CPU, seconds runnable but waiting for one) of a process's main thread (None
    when it is gone or the kernel does not say)."""
    try:
        with open(f"/proc/{pid}/schedstat") as stat:
            run_ns, wait_ns = stat.read().split()[:2]
        return int(run_ns) / 1e9, int(wait_ns) / 1e9
    except (OSError, ValueError):
        return None


class HttpConnection:
    """One persistent HTTP/1.1 connection for triggers: a request written in one send, the answer
    read by Content-Length. Far cheaper per call than `requests` (which costs about a millisecond
    of the bench's CPU per call, the limit of a few hundred triggers per second from one process).
    A connection the server closed while idle (keep-alive timeout) is reopened and the request
    sent once more, but only when not a byte of an answer came back."""

    def __init__(self, host, port, timeout=30.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock = None

    def _open(self):
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def request(self, method, path, body=b"", headers=None):
        """→ (status, body bytes); raises OSError when the server cannot be reached."""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                f"Content-Length: {len(body)}"]
        if body:
            head.append("Content-Type: application/json")
        head.extend(f"{k}: {v}" for k, v in (headers or {}).items())
        message = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        for attempt in (0, 1):
            fresh = self.sock is None
            if fresh:
                self._open()
            try:
                self.sock.sendall(message)
                return self._answer()
            except _NoAnswer:
                self.close()
                if fresh or attempt:
                    raise ConnectionError("the server closed the connection without answering")
            except OSError:
                self.close()
                raise
        raise ConnectionError("unreachable")

    def _answer(self):
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = self.sock.recv(65536)
            if not data:
                if buf:
                    raise ConnectionError("the connection closed in the middle of an answer")
                raise _NoAnswer()
            buf += data
        head, body = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while not body.endswith(b"0\r\n\r\n"):
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("the connection closed in the middle of an answer")
                body += data
        else:
            length = int(headers.get("content-length", 0))
            while len(body) < length:
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("the connection closed in the middle of an answer")
                body += data
        if headers.get("connection", "").lower() == "close" or lines[0].startswith("HTTP/1.0"):
            self.close()
        return status, body


class _NoAnswer(OSError):
    """The connection closed before the first byte of an answer."""


class Server:
    """One server process. Subclasses say how to start it and how to trigger deliveries."""

    name = ""
    features = frozenset()   # "notify", "churn": scenarios only the real server has
    root = ROOT              # the checkout the server runs from (bench/ab.py: another revision's)

    def __init__(self, log_dir, secret):
        self.log_dir = log_dir
        self.secret = secret
        self.port = None
        self.url = None
        self.process = None
        self._launcher = None
        self._local = threading.local()

    # --- lifecycle ----------------------------------------------------------------------------
    def unavailable(self):
        """None when the server can be started, else why not."""
        return None

    def command(self):
        raise NotImplementedError

    def env(self):
        """Environment variables on top of the bench's own."""
        return {}

    def ready_path(self):
        raise NotImplementedError

    def start(self, timeout=60):
        """Start on a free port (a new one each time) and wait until `ready_path()` answers."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._launcher = ServerProcess(self.command(), os.path.join(self.log_dir, f"{self.name}.log"),
                                       env=self.env(), cwd=self.root, ready_path=self.ready_path(),
                                       ready_headers=self.headers("admin"), port=self.port, name=self.name)
        self.process = self._launcher.start(timeout).process
        return self

    def stop(self):
        if self._launcher is not None:
            self._launcher.stop(15)
        self.process = None

    def rss_kib(self):
        return rss_kib(self.process.pid) if self.process else None

    def cpu_seconds(self):
        return cpu_seconds(self.process.pid) if self.process else None

    def schedstat(self):
        return schedstat(self.process.pid) if self.process else None

    # --- tokens and HTTP ------------------------------------------------------------------------
    def token(self, user_id, role="user", username=None):
        return mint_token(user_id, role, username, 6 * 3600, secret=self.secret)

    def headers(self, role):
        cache = self.__dict__.setdefault("_headers", {})
        if role not in cache:
            cache[role] = {"Authorization": f"Bearer {self.token(f'bench-{role}', role)}"}
        return cache[role]

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def post(self, path, body, role):
        """POST over this thread's persistent connection; returns the HTTP status (0 when the
        request failed)."""
        conn = getattr(self._local, "http", None)
        if conn is None or conn.port != self.port:
            conn = self._local.http = HttpConnection("127.0.0.1", self.port)
        try:
            return conn.request("POST", path, json.dumps(body).encode(), self.headers(role))[0]
        except (OSError, ValueError, IndexError):
            conn.close()
            return 0

    def connected_sockets(self):
        raise NotImplementedError

    # --- triggers: each carries `data` (with seq and sentAt) to the clients ---------------------
    def broadcast(self, data):
        raise NotImplementedError

    def room_update(self, task_id, data):
        raise NotImplementedError

    def notify(self, user_id, data):
        raise NotImplementedError(f"{self.name} has no notifications")


class DevTracker(Server):
    name = "devtracker"
    features = frozenset({"notify", "churn"})
    scenarios = None    # all of them

    def __init__(self, log_dir, secret, database_url=None, data_dir=None):
        super().__init__(log_dir, secret)
        self.database_url = database_url
        self.data_dir = data_dir or log_dir
        self.starts = 0

    def command(self):
        return [sys.executable, "app.py"]

    def env(self):
        self.starts += 1
        url = self.database_url or f"sqlite:///{os.path.join(self.data_dir, f'devtracker-{self.starts}.db')}"
        return {**super().env(), "PORT": str(self.port), "HOST": "127.0.0.1", "DATABASE_URL": url,
                "JWT_SECRET_KEY": self.secret, "DEVTRACKER_ENV": "development",
                "RATELIMIT_ENABLED": "false", "SOCKET_EVENT_RATE": "1000",
                "SOCKET_EVENT_BURST": "1000", "JOIN_EVENT_RATE": "1000", "TYPING_EVENT_RATE": "1000",
                "MAX_SOCKET_INPUT_BYTES_PER_SECOND": "0", "MAX_CONNECTIONS": "12000",
                "LOG_LEVEL": "WARNING"}

    def ready_path(self):
        return API + "/health"

    def connected_sockets(self):
        response = self._session().get(self.url + API + "/stats", headers=self.headers("admin"), timeout=30)
        return response.json()["data"]["connectedSockets"]

    def memory_report(self):
        """The server's own account of its memory, from /metrics: C heap in use / free /
        mmapped (KiB), heap trims, objects kept out of garbage collections."""
        text = self._session().get(self.url + "/metrics", timeout=30).text
        report = {}
        for state, value in re.findall(r'^devtracker_c_heap_bytes\{state="(\w+)"\} (\S+)$', text, re.M):
            report[f"heap{state.title().replace('_', '')}KiB"] = round(float(value) / 1024)
        for name, key in (("devtracker_heap_trims_total", "heapTrims"),
                          ("devtracker_gc_frozen_objects", "frozenObjects")):
            found = re.search(rf"^{name} (\S+)$", text, re.M)
            if found:
                report[key] = int(float(found.group(1)))
        return report

    def broadcast(self, data):
        return self.post(API + "/broadcast", {"event": "system:bench", "message": "bench", "data": data},
                         "admin")

    def room_update(self, task_id, data):
        return self.post(API + "/task/update", {"taskId": task_id, "action": "updated", "task": data},
                         "service")

    def notify(self, user_id, data):
        return self.post(f"{API}/notify/{user_id}", {"type": "update", "title": "bench", "message": "m",
                                                     "data": data}, "service")


class Reference(Server):
    """The references' common REST surface: /bench/broadcast, /bench/room, /bench/stats."""

    def ready_path(self):
        return "/bench/stats"

    def connected_sockets(self):
        return self._session().get(self.url + "/bench/stats", timeout=30).json()["data"]["connectedSockets"]

    def broadcast(self, data):
        return self.post("/bench/broadcast", {"data": data}, "admin")

    def room_update(self, task_id, data):
        return self.post("/bench/room", {"taskId": task_id, "data": data}, "service")


class FlaskReference(Reference):
    name = "flask"
    script = os.path.join("bench", "reference", "flask_app.py")

    def unavailable(self):
        if not os.path.exists(os.path.join(ROOT, self.script)):
            return f"{self.script} is missing"
        return None

    def command(self):
        return [sys.executable, self.script, "--port", str(self.port)]


class NodeReference(Reference):
    name = "node"
    script = os.path.join("bench", "reference", "node", "server.mjs")

    def unavailable(self):
        if shutil.which("node") is None:
            return "node is not on PATH"
        if not os.path.exists(os.path.join(ROOT, self.script)):
            return f"{self.script} is missing"
        if not os.path.isdir(os.path.join(ROOT, "bench", "reference", "node", "node_modules", "socket.io")):
            return "its dependencies are not installed: npm ci --prefix bench/reference/node"
        return None

    def command(self):
        return ["node", self.script, "--port", str(self.port)]


class DevTrackerPostgres(DevTracker):
    """The real server on PostgreSQL (`run.py --postgresql`): the scenarios that write."""

    name = "devtracker-pg"
    scenarios = frozenset({"rooms", "notifications"})


def make_server(name, log_dir, database_url=None, secret=None, data_dir=None):
    secret = secret or secrets.token_hex(20)  # 40 characters
    if name == "devtracker":
        return DevTracker(log_dir, secret, database_url, data_dir)
    if name == "devtracker-pg":
        return DevTrackerPostgres(log_dir, secret, database_url, data_dir)
    return {"flask": FlaskReference, "node": NodeReference}[name](log_dir, secret)


def machine_info():
    """CPU model (family, model number and clock too), cores, memory, kernel, Python and Node
    versions."""
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cores": os.cpu_count(), "cpu": platform.processor() or None}
    try:
        with open("/proc/cpuinfo") as cpu:
            fields = {}
            for line in cpu:
                if not line.strip():
                    break  # the first core's block is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
        info["cpu"] = fields.get("model name") or info["cpu"]
        # Hosts sold under one model name differ (run 11's was 2-3 times slower than run 10's).
        for key, name in (("cpu family", "cpuFamily"), ("model", "cpuModel"), ("cpu MHz", "cpuMHz")):
            if key in fields:
                info[name] = float(fields[key]) if name == "cpuMHz" else fields[key]
        with open("/proc/meminfo") as mem:
            for line in mem:
                if line.startswith("MemTotal:"):
                    info["memoryMiB"] = int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    try:
        git = ["git", "-C", ROOT]
        info["gitCommit"] = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True,
                                           text=True, timeout=10).stdout.strip() or None
        changed = subprocess.run(git + ["status", "--porcelain", "--untracked-files=no"],
                                 capture_output=True, text=True, timeout=10).stdout.split("\n")
        info["gitModified"] = [line[3:] for line in changed if line.strip()]
    except (OSError, subprocess.SubprocessError):
        info["gitCommit"] = None
    node = shutil.which("node")
    if node:
        try:
            info["node"] = subprocess.run([node, "--version"], capture_output=True, text=True,
                                          timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            info["node"] = None
    return info
