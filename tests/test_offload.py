"""engine/offload.py: blocking calls on one OS thread while eventlet's hub keeps running.

Run under eventlet in a fresh interpreter (tests/support/eventlet_run.py): its monkey-patching
must come before everything else and must not leak into the rest of the suite."""
from devtracker.engine import offload
from tests.support.eventlet_run import run_under_eventlet

SCRIPT = '''
    import json
    from eventlet import patcher
    from devtracker.engine import offload

    real_sleep = patcher.original("time").sleep
    real_thread = patcher.original("threading").get_ident
    out = {"available": offload.available()}
    runner = offload.runner()
    out["same_runner"] = offload.runner() is runner

    # Values come back; the call runs on another OS thread.
    out["value"] = runner.run(lambda: 41 + 1)
    out["other_thread"] = runner.run(real_thread) != real_thread()

    # Exceptions raised by the call reach the caller, with their type.
    try:
        runner.run(lambda: 1 / 0)
    except ZeroDivisionError:
        out["raised"] = "ZeroDivisionError"

    # While a call blocks its thread for 0.3 s, the hub keeps running other green threads.
    ticks = []

    def ticker():
        for _ in range(20):
            ticks.append(1)
            eventlet.sleep(0.01)

    ticking = eventlet.spawn(ticker)
    runner.run(lambda: real_sleep(0.3))
    out["ticks_during_call"] = len(ticks)
    ticking.wait()

    # Calls from many green threads run one at a time, each getting its own answer.
    pool = eventlet.GreenPool(50)
    out["answers"] = sorted(pool.imap(lambda i: runner.run(lambda: (real_sleep(0.001), i)[1]), range(200)))

    # A waiter killed mid-call dies only once the call has ended (the thread was still using
    # whatever the call touches), and the next call gets its own answer, not the old one.
    events = []

    def slow():
        real_sleep(0.2)
        events.append("call ended")
        return "old"

    def wait_for_slow():
        try:
            runner.run(slow)
            events.append("returned")
        except BaseException as exc:
            events.append(f"raised {type(exc).__name__}")
            raise

    waiter = eventlet.spawn(wait_for_slow)
    eventlet.sleep(0.05)
    waiter.kill()
    try:
        waiter.wait()
    except eventlet.greenlet.GreenletExit:
        pass
    out["kill_events"] = events
    out["next_answer"] = runner.run(lambda: "new")
    out["calls"] = runner.calls
    print(json.dumps(out))
'''


def test_offload_runs_calls_on_its_thread_while_the_hub_runs():
    out = run_under_eventlet(SCRIPT)
    assert out["available"] is True
    assert out["same_runner"] is True
    assert out["value"] == 42
    assert out["other_thread"] is True
    assert out["raised"] == "ZeroDivisionError"
    assert out["ticks_during_call"] >= 10, "the hub stalled while the call blocked its thread"
    assert out["answers"] == list(range(200))
    assert out["kill_events"] == ["call ended", "raised GreenletExit"]
    assert out["next_answer"] == "new"
    assert out["calls"] == 2 + 1 + 1 + 200 + 2


IDLE_SCRIPT = '''
    import json, socket
    from eventlet import patcher
    from devtracker.engine import offload

    real_thread = patcher.original("threading").get_ident
    runner = offload.runner()
    out = {}

    def where():
        # Only whether the hub is idle decides here: the window of recent call times (tested
        # below) starts empty, so a slow hand-off on a loaded machine cannot decide instead.
        offload._recent.clear()
        before = runner.calls
        ident = offload.run_blocking(real_thread)
        return {"inline": ident == real_thread(), "offloaded": runner.calls - before}

    # Nothing else to do: the call runs right here, on the hub's own thread.
    eventlet.sleep(0.01)
    out["idle"] = offload.hub_is_idle()
    out["alone"] = where()

    # A green thread ready to run: off the hub.
    ready = eventlet.spawn(lambda: None)
    out["green_thread_ready"] = where()
    ready.wait()

    # A timer due within the margin: off the hub, whether it is still among the hub's new
    # timers or already in its heap. The margin is widened for this, so that a slow machine
    # cannot let the timer fire before it is looked at.
    offload.IDLE_MARGIN_SECONDS = 1.0
    timer = eventlet.spawn_after(0.5, lambda: None)
    out["timer_new"] = where()
    eventlet.sleep(0)
    out["timer_due"] = where()
    timer.wait()
    offload.IDLE_MARGIN_SECONDS = 0.002

    # A timer due much later does not count.
    later = eventlet.spawn_after(60, lambda: None)
    eventlet.sleep(0.01)
    out["timer_later"] = where()
    later.cancel()

    # A socket with data waiting to be read: off the hub.
    a, b = socket.socketpair()
    reader = eventlet.spawn(a.recv, 10)
    eventlet.sleep(0.01)         # the reader waits on the hub for `a`
    b.send(b"x")
    out["socket_readable"] = where()
    out["read"] = reader.wait().decode()
    eventlet.sleep(0.01)
    out["idle_again"] = where()

    # After a call that took over 10 ms (a disk that stalls), the next calls leave the hub even
    # when it is idle, until 32 calls in a row were quick again.
    real_sleep = patcher.original("time").sleep
    offload._recent.clear()
    slow = []
    for _ in range(3):
        before = runner.calls
        offload.run_blocking(lambda: real_sleep(0.015))
        slow.append(runner.calls - before)
    out["slow_offloaded"] = slow
    quick = []
    while len(quick) < 300 and (not quick or quick[-1] == 1):
        before = runner.calls
        offload.run_blocking(lambda: None)
        quick.append(runner.calls - before)
    out["quick_offloaded"] = quick
    out["quick_again"] = where()
    print(json.dumps(out))
'''


def test_blocking_calls_run_on_the_hub_only_when_it_has_nothing_else_to_do():
    out = run_under_eventlet(IDLE_SCRIPT)
    here, away = {"inline": True, "offloaded": 0}, {"inline": False, "offloaded": 1}
    assert out["idle"] is True
    assert out["alone"] == here
    assert out["green_thread_ready"] == away
    assert out["timer_new"] == away
    assert out["timer_due"] == away
    assert out["timer_later"] == here
    assert out["socket_readable"] == away
    assert out["read"] == "x"
    assert out["idle_again"] == here
    assert out["slow_offloaded"] == [0, 1, 1], "the first slow call found the hub idle"
    # The last slow call leaves the window after 32 more calls (more, if a hand-off on this
    # machine took over 10 ms itself); then a call runs in place again.
    quick = out["quick_offloaded"]
    assert quick[-1] == 0 and quick[:-1] == [1] * (len(quick) - 1) and len(quick) > 32
    assert out["quick_again"] == here


def test_offload_is_not_available_without_eventlet_patching():
    # This test process is not monkey-patched (the suite runs threaded).
    assert offload.available() is False
