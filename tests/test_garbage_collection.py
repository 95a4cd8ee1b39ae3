"""The server's garbage-collection settings (devtracker/server.py), under `python app.py` and
under gunicorn's worker hook. Each check runs in a subprocess: the settings are process-wide."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from devtracker.server import GC_THRESHOLDS

ROOT = Path(__file__).resolve().parents[1]


def gc_state_after(code):
    script = textwrap.dedent(code) + textwrap.dedent('''
        import gc, json
        print(json.dumps({"thresholds": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
    ''')
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=str(ROOT))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_python_defaults_are_what_the_tuning_changes():
    state = gc_state_after("pass")
    assert tuple(state["thresholds"]) != GC_THRESHOLDS
    assert state["frozen"] == 0


def test_tuning_collects_the_middle_generation_less_often_and_freezes_start_up_objects():
    state = gc_state_after('''
        from devtracker.server import tune_garbage_collection
        tune_garbage_collection()
    ''')
    assert tuple(state["thresholds"]) == GC_THRESHOLDS
    assert GC_THRESHOLDS[1] > 10  # Python's default for the middle generation
    assert state["frozen"] > 10_000  # modules, functions, classes


def test_gunicorn_worker_hook_applies_the_same_tuning(tmp_path):
    """The worker's app is loaded when the hook runs (wsgi:app); its sockets get a freezer."""
    state = gc_state_after(f'''
        import runpy
        from devtracker import create_app
        from devtracker.realtime import freezer
        from tests.conftest import make_config

        app = create_app(make_config("sqlite:///{tmp_path / 'hook.db'}"))
        settings = runpy.run_path("gunicorn.conf.py")
        settings["post_worker_init"](None)
        assert freezer.running is not None and freezer.running.sids() is not None
    ''')
    assert tuple(state["thresholds"]) == GC_THRESHOLDS
    assert state["frozen"] > 10_000


def test_without_an_app_the_hook_starts_no_freezer():
    state = gc_state_after('''
        import runpy
        from devtracker.realtime import freezer

        settings = runpy.run_path("gunicorn.conf.py")
        settings["post_worker_init"](None)
        assert freezer.running is None
    ''')
    assert tuple(state["thresholds"]) == GC_THRESHOLDS
