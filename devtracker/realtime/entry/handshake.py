"""What a socket brings and what the server keeps for it: the handshake's `auth` (a token and
the cursors of a reconnecting client), task ids in client events, the per-socket state."""
import re
import time
from dataclasses import dataclass, field

from ...auth import Principal
from ...errors import InvalidInput
from ...ids import ID_MESSAGE, is_id
from ...models.base import MAX_ID
from .limits import TokenBucket

CURSOR_TEXT_RE = re.compile(r"[0-9]{1,30}")


@dataclass
class SocketState:
    """What the server keeps per socket."""

    sid: str
    events: TokenBucket
    typing: TokenBucket
    joins: TokenBucket
    principal: Principal | None = None
    generation: int = 0  # bumps on each token, so stale expiry timers are ignored
    connected_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Cursors:
    """Where a reconnecting client left off; None means no cursor."""

    notification: int | None = None
    activity: int | None = None
    notification_seq: int | None = None  # a stream position instead of an id (SPEC §9)
    activity_seq: int | None = None


def _cursor(value, name):
    if value is None:
        return None
    if isinstance(value, str) and CURSOR_TEXT_RE.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(details={name: ["Must be a whole number >= 0."]})
    return min(value, MAX_ID)  # beyond every possible id: nothing is newer


def parse_auth(payload):
    """`token` or `{token, lastNotificationId?, lastActivityId?}` → (token or None, Cursors)."""
    if payload is None:
        return None, Cursors()
    if isinstance(payload, str):
        token = payload
        payload = {}
    elif isinstance(payload, dict):
        token = payload.get("token")
    else:
        raise InvalidInput("auth must be a token string or {token, lastNotificationId, lastActivityId}.")
    if token is not None and not isinstance(token, str):
        raise InvalidInput(details={"token": ["Must be a string."]})
    if token and token[:7].lower() == "bearer ":
        token = token[7:]
    cursors = Cursors(_cursor(payload.get("lastNotificationId"), "lastNotificationId"),
                      _cursor(payload.get("lastActivityId"), "lastActivityId"),
                      _cursor(payload.get("lastNotificationSeq"), "lastNotificationSeq"),
                      _cursor(payload.get("lastActivitySeq"), "lastActivitySeq"))
    return token or None, cursors


def task_id_of(payload):
    """A task id from `"task_1"` or `{taskId: "task_1"}`."""
    task_id = payload.get("taskId") if isinstance(payload, dict) else payload
    if not is_id(task_id):
        raise InvalidInput(details={"taskId": [ID_MESSAGE]})
    return task_id
