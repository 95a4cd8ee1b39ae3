"""Admin announcements to every authenticated socket."""
from ..models.base import isoformat, utcnow
from ..realtime.delivery.emitter import emit
from ..realtime.delivery.rooms import AUTHENTICATED_ROOM
from ..storage import run_once


def broadcast(fields, idempotency=None):
    """Send a `system:*` event to every authenticated socket; return what was sent."""
    payload = {"message": fields["message"], "data": fields.get("data"),
               "timestamp": isoformat(utcnow())}
    outcome = run_once(idempotency, 200, lambda: {"event": fields["event"], **payload})
    if outcome.fresh:
        emit(fields["event"], payload, to=AUTHENTICATED_ROOM)
    return outcome.body
