"""Servers as real processes on a free port: the app (`python app.py`, as the README runs it)
and anything else that answers HTTP (bench/'s reference servers, gunicorn)."""
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from .ports import free_port
from .tokens import SECRET, mint_token

ROOT = str(Path(__file__).resolve().parents[2])
API = "/api/v1/realtime"


class ServerFailed(RuntimeError):
    """The server exited or did not answer in time; the message ends with its log's tail."""


class ServerProcess:
    """One server process on 127.0.0.1:`port` (a free one by default), restartable on that port.

    `command` may hold `{port}`; its output goes to `log_path`. `start()` returns once GET
    `ready_path` answers 200 (with `ready_headers`), and raises `ServerFailed` with the log's
    tail when the process exits first or does not answer within the timeout.
    """

    def __init__(self, command, log_path, *, env=None, cwd=ROOT, ready_path="/", ready_headers=None,
                 port=None, name=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = list(command)
        self.log_path = Path(log_path)
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **{k: str(v) for k, v in (env or {}).items()}}
        self.cwd = cwd
        self.ready_path = ready_path
        self.ready_headers = ready_headers or {}
        self.name = name or os.path.basename(self.command[0])
        self.process = None

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def start(self, timeout=30):
        """Start and wait until `ready_path` answers 200."""
        command = [part.format(port=self.port) for part in self.command]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, cwd=self.cwd, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(f"{self.name} exited with {self.process.returncode}; "
                                   f"{self.log_path}:\n{self.log_tail()}")
            try:
                if requests.get(self.url + self.ready_path, timeout=1,
                                headers=self.ready_headers).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise ServerFailed(f"{self.name} did not answer within {timeout} s; {self.log_path}:\n"
                           f"{self.log_tail()}")

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL after `timeout` seconds."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def restart(self):
        """Stop and start again, same port."""
        self.stop()
        return self.start()

    def log_tail(self, chars=3000):
        """The end of the server's output so far."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(max(0, os.path.getsize(self.log_path) - chars))
                return log.read().decode(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"


class LiveServer(ServerProcess):
    """The app as the README runs it (`python app.py`, or `command`), on a database of the
    caller's; restartable on the same database and port.

    `settings` are environment variables for the app (any of its settings, e.g.
    `MAX_CONNECTIONS=12000`); `async_mode` and `redis_url` set ASYNC_MODE and REDIS_URL.
    The defaults suit tests: development mode, a high REST rate limit, short grace periods.
    """

    def __init__(self, database_url, log_path, command=None, *, async_mode="eventlet", redis_url=None,
                 secret=SECRET, cwd=ROOT, **settings):
        port = free_port()
        env = {"PORT": port, "HOST": "127.0.0.1", "DATABASE_URL": database_url,
               "JWT_SECRET_KEY": secret, "DEVTRACKER_ENV": "development", "ASYNC_MODE": async_mode,
               "REST_RATE_LIMIT": "100000 per minute", "PRESENCE_GRACE_SECONDS": "0.5",
               "TYPING_TIMEOUT_SECONDS": "1", "LOG_LEVEL": "WARNING"}
        if redis_url:
            env["REDIS_URL"] = redis_url
        env.update(settings)
        super().__init__(command or [sys.executable, "app.py"], log_path, env=env, cwd=cwd,
                         ready_path=API + "/health", port=port, name="server")
        self.secret = secret

    def token(self, user_id, role="user", username=None, expires_in=3600, **claims):
        """A token signed with the server's secret."""
        return mint_token(user_id, role, username, expires_in, secret=self.secret, **claims)

    def api(self, method, path, token, **kwargs):
        """Call the REST API; return the decoded envelope's data (raising on HTTP errors)."""
        response = requests.request(method, self.url + API + path,
                                    headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()["data"]
