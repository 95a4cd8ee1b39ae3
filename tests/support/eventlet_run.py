"""Run a Python snippet in a fresh interpreter with eventlet's monkey-patching done first.

eventlet must patch the standard library before anything else imports it, and its patching
must not leak into the test process: each snippet gets a process of its own. The snippet
prints its result as JSON on its last line of output; `run_under_eventlet` returns it decoded.
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


def run_under_eventlet(code, *args, timeout=120, env=None):
    """Run `code` (dedented) after `eventlet.monkey_patch()` with `args` in sys.argv[1:], from the
    repository root; return the JSON its last output line holds."""
    done = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=str(ROOT), env=env)
    if done.returncode != 0:
        raise SnippetFailed(f"exit {done.returncode}:\n{done.stderr[-3000:]}")
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise SnippetFailed(f"no output; stderr:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])
