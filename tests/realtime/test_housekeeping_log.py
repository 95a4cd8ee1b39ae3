"""A housekeeping loop that fails tick after tick (the presence store is down) logs the first
failure with its traceback, then one line every FAILURE_LOG_EVERY ticks: not ten a second."""
import logging
import threading
import time

from devtracker.sockets import upkeep as housekeeping
from devtracker.sockets.upkeep import Housekeeper


class Clockwork:
    """Just what the loop needs of Flask-SocketIO: sleep and a background task."""

    @staticmethod
    def sleep(seconds):
        time.sleep(0)

    @staticmethod
    def start_background_task(target):
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        return thread


def test_a_failing_tick_is_logged_once_then_every_hundred(app, caplog):
    ticks = []

    def on_tick(now):
        ticks.append(now)
        if len(ticks) >= 350:
            keeper.stop()
        raise ConnectionError("presence store unreachable")

    keeper = Housekeeper(app, Clockwork(), lambda *args: None, on_tick)
    with caplog.at_level(logging.ERROR, logger=housekeeping.__name__):
        keeper.start()
        deadline = time.monotonic() + 10
        while not keeper._stopped and time.monotonic() < deadline:
            time.sleep(0.01)
    records = [r for r in caplog.records if r.name == housekeeping.__name__]
    assert len(ticks) >= 350
    assert records[0].exc_info is not None and records[0].getMessage() == "housekeeping tick failed"
    assert [r.getMessage() for r in records[1:]] == [
        f"housekeeping ticks still failing ({n} in a row): presence store unreachable" for n in (100, 200, 300)]
