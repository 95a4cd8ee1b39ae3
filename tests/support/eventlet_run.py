"""Run a Python snippet in a fresh interpreter with eventlet's monkey-patching done first.

eventlet must patch the standard library before anything else imports it, and its patching
must not leak into the test process: each snippet gets a process of its own. The snippet
prints its result as JSON on its last line of output; `run_under_eventlet` returns it decoded.
`run_python` does the same without eventlet (process-wide settings such as the garbage
collector's), `start_under_eventlet` keeps the process running (a server).
"""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRELUDE = (
    "import warnings\n"
    "warnings.filterwarnings('ignore', message=r'(?s).*Eventlet is deprecated')\n"
    "import eventlet\n"
    "eventlet.monkey_patch()\n"
)


class SnippetFailed(AssertionError):
    """The snippet exited with an error; the message ends with its stderr's tail."""


def command(code, *args, eventlet=True):
    """`python -c` for `code` (dedented) with `args` in sys.argv[1:]; eventlet's patching first
    unless `eventlet=False` (a fresh interpreter for process-wide settings alone)."""
    return [sys.executable, "-c", (PRELUDE if eventlet else "") + textwrap.dedent(code), *map(str, args)]


def run_python(code, *args, timeout=120, env=None, eventlet=False):
    """Run `code` from the repository root in a fresh interpreter; return the JSON its last
    output line holds (SnippetFailed with its stderr's tail when it fails)."""
    done = subprocess.run(command(code, *args, eventlet=eventlet), capture_output=True, text=True,
                          timeout=timeout, cwd=str(ROOT), env=env)
    if done.returncode != 0:
        raise SnippetFailed(f"exit {done.returncode}:\n{done.stderr[-3000:]}")
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise SnippetFailed(f"no output; stderr:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def run_under_eventlet(code, *args, timeout=120, env=None):
    """Run `code` (dedented) after `eventlet.monkey_patch()` with `args` in sys.argv[1:], from the
    repository root; return the JSON its last output line holds."""
    return run_python(code, *args, timeout=timeout, env=env, eventlet=True)


def start_under_eventlet(code, *args, env=None):
    """The same snippet as a process that keeps running (a server): text pipes for its output,
    the caller kills it."""
    return subprocess.Popen(command(code, *args), cwd=str(ROOT), env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
