"""Activity: record (and stream to everyone after commit), list with filters, prune."""
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from ..extensions import db
from ..metrics import count_write
from ..models import Activity
from ..models.base import utcnow
from ..realtime.delivery.emitter import emit
from ..realtime.delivery.rooms import AUTHENTICATED_ROOM
from ..schemas.activity import ACTIVITY
from .actors import resolve_actor
from ..storage import ACTIVITY_STREAM, commit_write

ACTIVITY_LOCK = (ACTIVITY_STREAM, ("",))  # one stream: every activity id is in commit order


def serialize_activity(activity):
    """The Activity payload of a stored activity."""
    return ACTIVITY.build_from(activity)


def activity_row(actor, recorded_by, type, action, target, task_id=None, data=None):
    """The activity row to insert, and a function that makes its payload from its new id
    (after it is stored, with its created_at)."""
    row = {"user_id": actor.user_id, "username": actor.username, "type": type, "action": action,
           "target": target, "task_id": task_id, "data": data, "recorded_by": recorded_by}

    def payload(activity_id):
        return ACTIVITY.build({**row, "id": activity_id})

    return row, payload


def stream_activity(payload):
    """Send a committed activity to every authenticated socket."""
    count_write("activity")
    emit("activity:feed", payload, to=AUTHENTICATED_ROOM)


def record_activity(principal, fields, idempotency=None):
    """Store an activity and stream it to every authenticated socket."""
    actor = resolve_actor(principal, fields.get("actor"))

    row, payload = activity_row(actor, principal.user_id, fields["type"], fields["action"],
                                fields["target"], fields.get("taskId"), fields.get("data"))
    return commit_write(idempotency, 201, Activity.__table__, [row], lambda ids: payload(ids[0]),
                        [ACTIVITY_LOCK], stream_activity).body


def list_activity(limit=20, before=None, after=None, user_id=None, type=None, task_id=None):
    """A page of activity: newest first below `before`, or oldest first above `after`."""
    query = select(Activity)
    for column, value in ((Activity.user_id, user_id), (Activity.type, type),
                          (Activity.task_id, task_id)):
        if value is not None:
            query = query.where(column == value)
    if before is not None:
        query = query.where(Activity.id < before)
    if after is not None:
        query = query.where(Activity.id > after)
    order = Activity.id.asc() if after is not None and before is None else Activity.id.desc()
    rows = db.session.execute(query.order_by(order).limit(limit + 1)).scalars().all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    return {"activities": [serialize_activity(r) for r in rows],
            "nextCursor": rows[-1].id if has_more else None, "hasMore": has_more}


def activity_after(after_id, limit):
    """Activity newer than a cursor, oldest first, capped to the newest `limit`; and whether capped."""
    rows = db.session.execute(select(Activity).where(Activity.id > after_id)
                              .order_by(Activity.id.desc()).limit(limit + 1)).scalars().all()
    truncated = len(rows) > limit
    return [serialize_activity(r) for r in reversed(rows[:limit])], truncated


def activity_after_seq(after_seq, limit):
    """Activity past a stream position, oldest first, capped to the newest `limit`; and whether capped."""
    rows = db.session.execute(select(Activity).where(Activity.seq > after_seq)
                              .order_by(Activity.seq.desc()).limit(limit + 1)).scalars().all()
    truncated = len(rows) > limit
    return [serialize_activity(r) for r in reversed(rows[:limit])], truncated


def activity_between(after_seq, before_seq):
    """Activity strictly between two stream positions, oldest first (a hole's fill)."""
    query = (select(Activity).where(Activity.seq > after_seq, Activity.seq < before_seq)
             .order_by(Activity.seq))
    return [serialize_activity(r) for r in db.session.execute(query).scalars()]


def newest_activity_seq():
    """Where the activity stream stands: its largest seq, or 0."""
    return db.session.execute(select(func.max(Activity.seq))).scalar() or 0


def newest_activity_id():
    """The largest activity id, or None."""
    return db.session.execute(select(func.max(Activity.id))).scalar()


def prune_activity(older_than_days=None, now=None):
    """Delete activity older than the retention period, but never the newest row: the stream's
    next `seq` follows the highest one stored, and clients resume from it (SPEC §9). Return
    how many rows went."""
    days = older_than_days if older_than_days is not None else current_app.config["ACTIVITY_RETENTION_DAYS"]
    cutoff = (now or utcnow()) - timedelta(days=days)
    newest = select(func.max(Activity.seq)).scalar_subquery()
    result = db.session.execute(delete(Activity).where(Activity.created_at < cutoff, Activity.seq < newest))
    db.session.commit()
    return result.rowcount
