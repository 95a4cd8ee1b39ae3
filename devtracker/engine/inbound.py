"""A budget on the bytes each Socket.IO connection may send (`MAX_SOCKET_INPUT_BYTES_PER_SECOND`).

Written for python-engineio 4.15.1 (`engineio.socket.Socket.receive`, `close(wait, abort,
reason)`, `Server.reason`, `Server.start_background_task`).

The namespace's event rate limit runs after python-socketio has decoded a message, and decoding
costs time in proportion to its size: a client sending the largest messages engine.io accepts,
as fast as it can, would keep the server decoding for it alone. Here each connection has a token bucket of bytes, checked on every
message as it arrives, before anything decodes it: `rate` bytes a second on average, `burst` at
once. A connection that overdraws it is dropped (closed as a disconnect, so presence and rooms
follow) and counted for /metrics. Pings, pongs and upgrades are not counted.

`install()` returns False, changing nothing, when python-engineio's socket is not the expected
one.
"""
import logging
import time

from .backlog import packet_bytes

log = logging.getLogger(__name__)

_installed = None  # (rate, burst) once installed
drops = 0  # connections dropped for overdrawing their budget in this process (/metrics)


class ByteBudget:
    """`rate` bytes a second on average, up to `burst` at once."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate, burst, clock=time.monotonic):
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = clock()

    def spend(self, size, now):
        """Take `size` bytes; False when the budget does not hold them."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if size > self.tokens:
            return False
        self.tokens -= size
        return True


def install(rate, burst, clock=time.monotonic):
    """Give every Engine.IO connection a budget of `rate` bytes a second and `burst` at once
    (rate 0: no budget); False when python-engineio's socket is not the expected one."""
    global _installed
    if not rate:
        return False
    if _installed is not None:
        if _installed != (rate, burst):
            log.warning("MAX_SOCKET_INPUT_BYTES_PER_SECOND is %s in this process already; %s ignored",
                        _installed[0], rate)
        return True
    from engineio import packet as eio_packet
    from engineio import socket as eio_socket

    socket_class = eio_socket.Socket
    receive = getattr(socket_class, "receive", None)
    if receive is None or not hasattr(socket_class, "close"):
        log.warning("socket input budget off: python-engineio's Socket is not the expected one")
        return False
    message = eio_packet.MESSAGE

    def receive_budgeted(self, pkt):
        if pkt.packet_type == message:
            budget = self.__dict__.get("_input_budget")
            if budget is None:
                budget = self._input_budget = ByteBudget(rate, burst, clock)
            if budget.rate is None:  # being dropped: nothing more is handled
                return None
            if not budget.spend(packet_bytes(pkt), clock()):
                budget.rate = None
                self.server.start_background_task(_drop, self)
                return None
        return receive(self, pkt)

    socket_class.receive = receive_budgeted
    _installed = (rate, burst)
    return True


def _drop(eio_socket):
    """Close a connection that overdrew its budget, as a disconnect (its own green thread)."""
    global drops
    drops += 1
    log.info("socket %s dropped: over MAX_SOCKET_INPUT_BYTES_PER_SECOND", eio_socket.sid)
    eio_socket.close(wait=False, abort=True, reason=eio_socket.server.reason.SERVER_DISCONNECT)
