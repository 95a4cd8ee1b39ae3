"""Unmasking websocket frames from clients in a few big-integer operations.

Every frame a client sends is masked (RFC 6455 §5.3). eventlet's websocket unmasks in Python,
one byte at a time, with a `bytes` object per byte (`RFC6455WebSocket._apply_mask`): measured
here, 0.36 ms for a 1 KiB message and 6.0 ms for a 16 KiB one, during which no other socket is
served. XOR-ing the whole payload as one integer with the mask repeated to its length gives the
same bytes in 6 and 68 µs.
"""


def apply_mask(data, mask, length=None, offset=0):
    """eventlet's `_apply_mask`: the first `length` bytes of `data` XOR the 4-byte `mask`,
    starting at byte `offset` of the mask's cycle (a frame read in several pieces)."""
    if length is None:
        length = len(data)
    if length <= 0:
        return b""
    start = offset % 4
    key = bytes(mask[start:4]) + bytes(mask[:start])
    repeated = key * (length // 4 + 1)
    value = int.from_bytes(data[:length], "big") ^ int.from_bytes(repeated[:length], "big")
    return value.to_bytes(length, "big")


def install():
    """Use `apply_mask` in eventlet's websocket; False when eventlet's is not the expected one."""
    from eventlet import websocket

    cls = getattr(websocket, "RFC6455WebSocket", None)
    current = cls.__dict__.get("_apply_mask") if cls is not None else None
    if not isinstance(current, staticmethod):
        return False
    cls._apply_mask = staticmethod(apply_mask)
    return True
