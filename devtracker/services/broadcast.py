"""Admin announcements to every authenticated socket."""
from ..models.base import isoformat, utcnow
from ..realtime.delivery.emitter import emit
from ..realtime.delivery.rooms import AUTHENTICATED_ROOM
from ..schemas.broadcast import BROADCAST, SYSTEM_EVENT
from ..storage import run_once


def broadcast(fields, idempotency=None):
    """Send a `system:*` event to every authenticated socket; return what was sent."""
    sent = {"event": fields["event"], "message": fields["message"], "data": fields.get("data"),
            "timestamp": isoformat(utcnow())}
    outcome = run_once(idempotency, 200, lambda: BROADCAST.build(sent))
    if outcome.fresh:
        emit(fields["event"], SYSTEM_EVENT.build(sent), to=AUTHENTICATED_ROOM)
    return outcome.body
