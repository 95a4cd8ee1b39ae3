"""Private PostgreSQL and Redis servers on free ports, that a test or a chaos run may stop,
kill and restart.

The machine's shared PostgreSQL and Redis serve other tests at the same time: these never
touch them. Each instance here lives in a temporary directory and is removed afterwards.
"""
import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import redis as redis_lib
from sqlalchemy import create_engine, text

from .ports import free_port


def postgres_bin_dir():
    """The directory holding initdb and pg_ctl (PG_BIN_DIR, else the newest under
    /usr/lib/postgresql, else PATH), or None."""
    candidates = [os.environ.get("PG_BIN_DIR", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
                         reverse=True)
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(os.path.dirname(found))
    for path in candidates:
        if path and os.access(os.path.join(path, "initdb"), os.X_OK) \
                and os.access(os.path.join(path, "pg_ctl"), os.X_OK):
            return path
    return None


def missing_binaries():
    """A sentence naming the binaries a chaos run needs and cannot find, or None."""
    missing = []
    if postgres_bin_dir() is None:
        missing.append("initdb/pg_ctl (PostgreSQL server; PG_BIN_DIR names their directory)")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    return ", ".join(missing) + " not found" if missing else None


def _as_postgres_user():
    """initdb refuses root: run the server as the `postgres` user then."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--"]
    return ["su", "postgres", "-s", "/bin/sh", "-c"]  # pragma: no cover - runuser is in util-linux


class PrivatePostgres:
    """A PostgreSQL cluster of its own: `start()`, `stop()`, `restart()`, `url`."""

    def __init__(self):
        self.bin_dir = postgres_bin_dir()
        self.port = free_port()
        self.root = tempfile.mkdtemp(prefix="dt-chaos-pg-")
        self.data = os.path.join(self.root, "data")
        self.log = os.path.join(self.root, "postgres.log")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.prefix = _as_postgres_user()
        if self.prefix:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")

    def _run(self, tool, *args, check=True):
        command = self.prefix + [os.path.join(self.bin_dir, tool), *args]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def start(self, timeout=30):
        """Start and wait until it answers a query."""
        # fsync off: the test measures the server's behaviour, not the disk's.
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "-t", str(timeout),
                  "start")
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=30):
        """Block until a query answers."""
        engine = create_engine(self.url.replace("postgresql://", "postgresql+psycopg2://", 1))
        deadline = time.time() + timeout
        try:
            while True:
                try:
                    with engine.connect() as conn:
                        conn.execute(text("SELECT 1"))
                    return
                except Exception:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.05)
        finally:
            engine.dispose()

    def stop(self, mode="fast"):
        """Stop the server (`fast` ends every session; `immediate` is a crash)."""
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop", check=False)

    def restart(self, down_seconds=0.0):
        """Stop, stay down `down_seconds`, start again."""
        self.stop()
        time.sleep(down_seconds)
        return self.start()

    def create_database(self):
        """A new empty database on this server; its URL."""
        name = f"chaos_{uuid.uuid4().hex[:10]}"
        engine = create_engine(self.url.replace("postgresql://", "postgresql+psycopg2://", 1),
                               isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url.rsplit("/", 1)[0] + "/" + name

    def query(self, sql, **params):
        """Rows of one query (a short-lived connection of its own)."""
        engine = create_engine(self.url.replace("postgresql://", "postgresql+psycopg2://", 1))
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql), params).fetchall()
        finally:
            engine.dispose()

    def close(self):
        """Stop the server and delete its directory."""
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A redis-server of its own, keeping nothing on disk: `start()`, `kill()`, `url`."""

    def __init__(self):
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.root = tempfile.mkdtemp(prefix="dt-chaos-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self, timeout=10):
        """Start and wait until it answers PING."""
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.root],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis_lib.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.time() + timeout
        while True:
            try:
                client.ping()
                return self
            except redis_lib.RedisError:
                if time.time() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server on port {self.port} did not start")
                time.sleep(0.05)

    def kill(self):
        """SIGKILL: everything it held (presence, messages in flight) is gone."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self):
        """Kill it and delete its directory."""
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)
