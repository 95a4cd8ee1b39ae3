"""Notifications: create (one or many), list, count unread, mark read; push after commit."""
from sqlalchemy import func, select, update

from ..errors import Forbidden, NotFound
from ..extensions import db
from ..ids import ID_RE
from ..metrics import count_write
from ..models import Notification
from ..models.base import utcnow
from ..realtime.delivery.emitter import emit
from ..realtime.delivery.rooms import user_room
from ..schemas.notification import NOTIFICATION, READ_STATE
from .actors import resolve_actor
from ..storage import NOTIFICATION_STREAM, commit_write


def serialize_notification(notification):
    """The Notification payload of a stored notification."""
    return NOTIFICATION.build_from(notification)


def _task_id(fields):
    """The body's taskId, else data.taskId when it is a valid id (the product note puts it there)."""
    if fields.get("taskId"):
        return fields["taskId"]
    candidate = (fields.get("data") or {}).get("taskId")
    return candidate if isinstance(candidate, str) and ID_RE.match(candidate) else None


def create_notifications(principal, user_ids, fields, idempotency=None):
    """Store one notification per recipient (all or none), then push each to its user's sockets."""
    actor = resolve_actor(principal, fields.get("actor"))
    recipients = list(dict.fromkeys(user_ids))  # de-duplicated, order kept

    common = {"type": fields["type"], "title": fields["title"], "message": fields["message"],
              "task_id": _task_id(fields), "data": fields.get("data"), "read": False,
              "created_by": actor.user_id}
    rows = [{"user_id": user_id, **common} for user_id in recipients]

    def build(ids):  # each payload keeps its recipient, for `publish` and an idempotent repeat
        payloads = []
        for id_, row in zip(ids, rows):
            payload = NOTIFICATION.build({**row, "id": id_})
            payload["userId"] = row["user_id"]
            payloads.append(payload)
        return payloads

    def publish(payloads):
        count_write("notification", len(payloads))
        for payload in payloads:
            emit("notification", _public(payload), to=user_room(payload["userId"]))

    outcome = commit_write(idempotency, 201, Notification.__table__, rows, build,
                           [(NOTIFICATION_STREAM, recipients)], publish)
    return [_public(p) for p in outcome.body]


def _public(payload):
    return {k: v for k, v in payload.items() if k != "userId"}


def create_notification(principal, user_id, fields, idempotency=None):
    """Store a notification for one user and push it to every socket of theirs."""
    return create_notifications(principal, [user_id], fields, idempotency)[0]


def inbox_owner(principal, user_id=None):
    """Whose inbox a call may touch: one's own; another's only for services and admins."""
    if user_id is None or user_id == principal.user_id:
        return principal.user_id
    if not principal.acts_for_others:
        raise Forbidden("You can only see and change your own notifications.")
    return user_id


def list_notifications(user_id, limit=20, before=None, unread=False):
    """A page of a user's notifications, newest first, below the `before` cursor."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread:
        query = query.where(Notification.read.is_(False))
    if before is not None:
        query = query.where(Notification.id < before)
    rows = db.session.execute(query.order_by(Notification.id.desc()).limit(limit + 1)).scalars().all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    return {"notifications": [serialize_notification(r) for r in rows],
            "nextCursor": rows[-1].id if has_more else None, "hasMore": has_more}


def notifications_after(user_id, after_id):
    """Every notification of a user newer than a cursor, oldest first (replay)."""
    query = (select(Notification).where(Notification.user_id == user_id, Notification.id > after_id)
             .order_by(Notification.id))
    return [serialize_notification(r) for r in db.session.execute(query).scalars()]


def notifications_after_seq(user_id, after_seq):
    """Every notification of a user past a stream position, oldest first (replay from `seq`)."""
    query = (select(Notification).where(Notification.user_id == user_id, Notification.seq > after_seq)
             .order_by(Notification.seq))
    return [serialize_notification(r) for r in db.session.execute(query).scalars()]


def notifications_between(user_id, after_seq, before_seq):
    """A user's notifications strictly between two stream positions, oldest first (a hole's fill)."""
    query = (select(Notification).where(Notification.user_id == user_id, Notification.seq > after_seq,
                                        Notification.seq < before_seq).order_by(Notification.seq))
    return [serialize_notification(r) for r in db.session.execute(query).scalars()]


def newest_notification_seq(user_id):
    """Where a user's notification stream stands: its largest seq, or 0."""
    return db.session.execute(select(func.max(Notification.seq))
                              .where(Notification.user_id == user_id)).scalar() or 0


def unread_notifications(user_id):
    """A user's unread notifications, oldest first (replay without a cursor)."""
    query = (select(Notification).where(Notification.user_id == user_id,
                                        Notification.read.is_(False)).order_by(Notification.id))
    return [serialize_notification(r) for r in db.session.execute(query).scalars()]


def newest_notification_id(user_id):
    """The largest notification id of a user, or None."""
    return db.session.execute(select(func.max(Notification.id)).where(Notification.user_id == user_id)).scalar()


def unread_count(user_id):
    """How many unread notifications a user has."""
    return db.session.execute(
        select(func.count()).select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read.is_(False))).scalar_one()


def _mark(user_id, where):
    now = utcnow()
    ids = db.session.execute(
        select(Notification.id).where(Notification.user_id == user_id,
                                      Notification.read.is_(False), *where)
        .order_by(Notification.id)).scalars().all()
    if ids:
        db.session.execute(update(Notification).where(Notification.id.in_(ids))
                           .values(read=True, read_at=now))
    count = unread_count(user_id)
    db.session.commit()
    state = READ_STATE.build({"ids": list(ids), "unreadCount": count})
    if ids:
        emit("notification:read", state, to=user_room(user_id))
    return state


def mark_read(user_id, ids):
    """Mark some of a user's notifications read; sync every device. Unknown or foreign ids: 404."""
    ids = list(dict.fromkeys(ids))
    owned = set(db.session.execute(
        select(Notification.id).where(Notification.user_id == user_id,
                                      Notification.id.in_(ids))).scalars())
    missing = [i for i in ids if i not in owned]
    if missing:
        db.session.rollback()
        raise NotFound("No such notification.", details={"ids": missing})
    return _mark(user_id, [Notification.id.in_(ids)])


def mark_all_read(user_id):
    """Mark every notification of a user read; sync every device."""
    return _mark(user_id, [])
