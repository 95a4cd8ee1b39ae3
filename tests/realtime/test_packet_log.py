"""The packet error filter: one short line per record, at most `limit` a window, a line
saying how many were left out, and full tracebacks kept for errors in the project's code."""
import logging

from devtracker.sockets.packet_log import PacketErrorFilter


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def library_record():
    """A record whose traceback runs only through library code (json's decoder)."""
    import json
    try:
        json.loads("[")
    except ValueError as caught:
        return logging.LogRecord("engineio.server", logging.ERROR, "x", 1, "message handler error",
                                 (), (type(caught), caught, caught.__traceback__))


def test_a_library_traceback_becomes_one_warning_line():
    record = library_record()
    assert PacketErrorFilter().filter(record) is True
    assert record.exc_info is None and record.levelno == logging.WARNING
    assert record.getMessage().startswith("message handler error (a client packet the server could "
                                          "not handle): JSONDecodeError: Expecting value")


def test_at_most_limit_lines_a_window_then_a_count_of_those_left_out():
    clock = Clock()
    packet_filter = PacketErrorFilter(limit=3, window=60, clock=clock)
    kept = [packet_filter.filter(library_record()) for _ in range(10)]
    assert kept == [True] * 3 + [False] * 7
    clock.now = 61
    record = library_record()
    assert packet_filter.filter(record) is True
    assert "(7 more in the last 60 s not logged)" in record.getMessage()
    assert packet_filter.total == 11


def test_a_traceback_through_project_code_keeps_its_traceback():
    # This test module lives in the checkout, but not in devtracker/: build a frame there.
    from devtracker.sockets.handshake import parse_auth

    try:
        parse_auth(42)
    except Exception as caught:
        record = logging.LogRecord("engineio.server", logging.ERROR, "x", 1, "handler error", (),
                                   (type(caught), caught, caught.__traceback__))
    assert PacketErrorFilter().filter(record) is True
    assert record.exc_info is not None and record.levelno == logging.ERROR


def test_lower_levels_pass_untouched():
    record = logging.LogRecord("engineio.server", logging.INFO, "x", 1, "hello", (), None)
    packet_filter = PacketErrorFilter(limit=0)
    assert packet_filter.filter(record) is True and packet_filter.total == 0


def test_other_errors_of_the_libraries_pass_untouched():
    record = logging.LogRecord("socketio.server", logging.ERROR, "x", 1,
                               "Cannot receive from redis... retrying in %d secs", (2,), None)
    packet_filter = PacketErrorFilter(limit=0)
    assert packet_filter.filter(record) is True and packet_filter.total == 0
    assert record.getMessage() == "Cannot receive from redis... retrying in 2 secs"
