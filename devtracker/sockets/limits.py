"""Per-socket limits: event rates (token buckets) and message size."""
import json
import time

from ..errors import AppError, InvalidInput
from ..strictjson import NUMBER_MESSAGE


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
    """The size of an event's arguments as compact JSON, in bytes; an AppError for arguments
    that are not strict JSON text (binary, lone surrogates, numbers no JSON peer can hold)."""
    try:
        if len(args) == 1 and isinstance(args[0], str):
            return len(args[0].encode())
        return len(json.dumps(args, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())
    except TypeError:  # binary attachments: no client event takes them
        raise AppError("Binary payloads are not accepted; send JSON.", code="INVALID_PAYLOAD",
                       status=400) from None
    except UnicodeEncodeError:
        raise InvalidInput(details={"_schema": ["Strings must be valid Unicode (no lone surrogates)."]}) from None
    except ValueError:  # strictjson.NonFinite: 1e999, NaN, Infinity, huge integers
        raise InvalidInput(details={"_schema": [NUMBER_MESSAGE]}) from None
