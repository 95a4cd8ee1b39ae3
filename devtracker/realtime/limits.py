"""Per-socket limits: event rates (token buckets) and message size."""
import json
import time

from ..errors import AppError


class TokenBucket:
    """`rate` events per second on average, bursts up to `burst`."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate, burst):
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self):
        """Spend one token; False when the bucket is empty."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def message_size(args):
    """The size of an event's arguments as compact JSON, in bytes."""
    if len(args) == 1 and isinstance(args[0], str):
        return len(args[0].encode())
    try:
        return len(json.dumps(args, separators=(",", ":"), ensure_ascii=False).encode())
    except (TypeError, ValueError):  # binary attachments: no client event takes them
        raise AppError("Binary payloads are not accepted; send JSON.", code="INVALID_PAYLOAD",
                       status=400) from None
