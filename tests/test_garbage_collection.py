"""The server's garbage-collection settings (devtracker/engine/tuning.py, freezer.py), installed
by create_app for `python app.py` and gunicorn alike, and left alone in a test app. Each check
runs in a fresh interpreter (tests/support/eventlet_run.py): the settings are process-wide."""
import textwrap

from devtracker.engine.tuning import GC_THRESHOLDS
from tests.support.eventlet_run import run_python


def gc_state_after(code):
    script = textwrap.dedent(code) + textwrap.dedent('''
        import gc, json
        print(json.dumps({"thresholds": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
    ''')
    return run_python(script)


def test_python_defaults_are_what_the_tuning_changes():
    state = gc_state_after("pass")
    assert tuple(state["thresholds"]) != GC_THRESHOLDS
    assert state["frozen"] == 0


def test_tuning_collects_the_middle_generation_less_often_and_freezes_start_up_objects():
    state = gc_state_after('''
        from devtracker.engine.tuning import tune_garbage_collection
        tune_garbage_collection()
    ''')
    assert tuple(state["thresholds"]) == GC_THRESHOLDS
    assert GC_THRESHOLDS[1] > 10  # Python's default for the middle generation
    assert state["frozen"] > 10_000  # modules, functions, classes


def test_a_serving_app_gets_the_same_tuning_and_a_freezer(tmp_path):
    """create_app installs it last (what gunicorn's worker loads as wsgi:app, and app.py serves)."""
    state = gc_state_after(f'''
        from devtracker import create_app
        from devtracker.engine import freezer, is_active
        from tests.conftest import make_config

        app = create_app(make_config("sqlite:///{tmp_path / 'served.db'}", TESTING=False))
        assert is_active(app, "gc_tuning") and is_active(app, "socket_freezer")
        assert freezer.running is not None and freezer.running.sids() is not None
    ''')
    assert tuple(state["thresholds"]) == GC_THRESHOLDS
    assert state["frozen"] > 10_000


def test_a_test_app_leaves_the_collector_alone():
    state = gc_state_after('''
        from devtracker import create_app
        from devtracker.engine import freezer, is_active
        from tests.conftest import make_config

        app = create_app(make_config("sqlite://"))
        assert not is_active(app, "gc_tuning") and not is_active(app, "socket_freezer")
        assert freezer.running is None
    ''')
    assert tuple(state["thresholds"]) != GC_THRESHOLDS
    assert state["frozen"] == 0
