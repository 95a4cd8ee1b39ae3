"""Start the real server the way the README does (`python app.py`) on a free port."""
import os
import socket
import subprocess
import sys
import time

import jwt as pyjwt
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "integration-secret-that-is-long-enough-for-hs256"


def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """One `python app.py` process; restartable on the same database and port."""

    def __init__(self, database_url, log_path, command=None, **settings):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {**os.environ, "PORT": str(self.port), "HOST": "127.0.0.1",
                    "DATABASE_URL": database_url, "JWT_SECRET_KEY": SECRET,
                    "DEVTRACKER_ENV": "development", "ASYNC_MODE": "eventlet",
                    "REST_RATE_LIMIT": "100000 per minute", "PRESENCE_GRACE_SECONDS": "0.5",
                    "TYPING_TIMEOUT_SECONDS": "1", "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
        self.env.update({k: str(v) for k, v in settings.items()})
        self.command = command or [sys.executable, "app.py"]
        self.process = None

    def start(self, timeout=30):
        """Start and wait until /health answers."""
        log = open(self.log_path, "ab")
        command = [part.format(port=self.port) for part in self.command]
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {self.log_path}")
            try:
                if requests.get(self.url + "/api/v1/realtime/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer within {timeout} s; see {self.log_path}")

    def stop(self):
        """Stop the process (SIGTERM, then SIGKILL)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def restart(self):
        """Stop and start again, same port, same database."""
        self.stop()
        return self.start()

    def token(self, user_id, role="user", username=None, expires_in=3600):
        """A token signed with the server's secret."""
        now = int(time.time())
        return pyjwt.encode({"sub": user_id, "username": username or user_id, "role": role,
                             "iat": now, "exp": now + expires_in}, SECRET, algorithm="HS256")

    def api(self, method, path, token, **kwargs):
        """Call the REST API; return the decoded envelope (raising on HTTP errors)."""
        response = requests.request(method, self.url + "/api/v1/realtime" + path,
                                    headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()["data"]
