"""The activity stream: record and page through history."""
from ..auth import current_principal
from ..errors import ok
from ..schemas.activity import (ActivityListQuerySchema, ActivityPageSchema, ActivitySchema,
                                RecordActivitySchema)
from ..services import activity as service
from .blueprint import bp
from .endpoint import endpoint


@bp.post("/activity")
@endpoint("Record an activity and stream it to everyone", body=RecordActivitySchema(),
          response=ActivitySchema, status=201, idempotent=True, tags=("activity",))
def record_activity(body, idempotency):
    """Stored, then sent as `activity:feed` to every authenticated socket."""
    return ok(service.record_activity(current_principal(), body, idempotency), 201)


@bp.get("/activity")
@endpoint("Activity history with filters", query=ActivityListQuerySchema(),
          response=ActivityPageSchema, tags=("activity",))
def list_activity(query):
    """Newest first below `before`; oldest first above `after` (catching up); filter by user, type, task."""
    return ok(service.list_activity(query["limit"], query.get("before"), query.get("after"),
                                    query.get("userId"), query.get("type"), query.get("taskId")))
