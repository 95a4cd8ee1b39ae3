"""What a socket brings and what the server keeps for it: the handshake's `auth` (a token and
the cursors of a reconnecting client), client event payloads loaded through their schemas
(schemas/socket.py), the per-socket state."""
import time
from dataclasses import dataclass, field


from ..auth import Principal
from ..errors import load
from ..schemas.socket import AuthSchema, TaskRefSchema
from .limits import TokenBucket

AUTH, TASK_REF = AuthSchema(), TaskRefSchema()


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


def parse_auth(payload):
    """`token` or `{token, lastNotificationId?, lastActivityId?, ...Seq?}` → (token or None, Cursors)."""
    fields = load(AUTH, payload)
    return fields["token"], Cursors(fields.get("lastNotificationId"), fields.get("lastActivityId"),
                                    fields.get("lastNotificationSeq"), fields.get("lastActivitySeq"))


def task_id_of(payload):
    """A task id from `"task_1"` or `{taskId: "task_1"}`."""
    return load(TASK_REF, payload)["taskId"]
