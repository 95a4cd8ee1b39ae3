"""Notify users, and each user's notification inbox."""
from ..auth import current_principal
from ..errors import ok
from ..models.base import MAX_ID
from ..schemas.notification import (BulkNotificationsSchema, BulkNotifySchema,
                                    NotificationListQuerySchema, NotificationPageSchema,
                                    NotificationSchema, NotifySchema, ReadStateSchema,
                                    UnreadCountSchema, UserQuerySchema)
from ..services import notifications as service
from .blueprint import bp
from .endpoint import endpoint


@bp.post("/notify/<userId>")
@endpoint("Notify one user", body=NotifySchema(), response=NotificationSchema, status=201,
          idempotent=True, path_ids=("userId",), tags=("notifications",))
def notify(userId, body, idempotency):  # noqa: N803
    """Store a notification and push it to every socket of the user."""
    return ok(service.create_notification(current_principal(), userId, body, idempotency), 201)


@bp.post("/notify")
@endpoint("Notify several users (all stored or none)", body=BulkNotifySchema(),
          response=BulkNotificationsSchema, status=201, idempotent=True, tags=("notifications",))
def notify_many(body, idempotency):
    """One stored notification per recipient, each pushed to that recipient's sockets."""
    stored = service.create_notifications(current_principal(), body["userIds"], body, idempotency)
    return ok({"count": len(stored), "notifications": stored}, 201)


@bp.get("/notifications")
@endpoint("A page of your notifications, newest first", query=NotificationListQuerySchema(),
          response=NotificationPageSchema, tags=("notifications",))
def list_notifications(query):
    """`unread=true` for unread only; pass `nextCursor` back as `before` for the next page."""
    owner = service.inbox_owner(current_principal(), query.get("userId"))
    return ok(service.list_notifications(owner, query["limit"], query.get("before"), query["unread"]))


@bp.get("/notifications/unread-count")
@endpoint("How many of your notifications are unread", query=UserQuerySchema(),
          response=UnreadCountSchema, tags=("notifications",))
def unread_count(query):
    """The unread count the bell shows."""
    owner = service.inbox_owner(current_principal(), query.get("userId"))
    return ok({"unreadCount": service.unread_count(owner)})


@bp.post(f"/notifications/<int(max={MAX_ID}):notificationId>/read")
@endpoint("Mark one of your notifications read", query=UserQuerySchema(),
          response=ReadStateSchema, tags=("notifications",))
def mark_read(notificationId, query):  # noqa: N803
    """Every device of yours gets `notification:read` with the new unread count."""
    owner = service.inbox_owner(current_principal(), query.get("userId"))
    return ok(service.mark_read(owner, [notificationId]))


@bp.post("/notifications/read-all")
@endpoint("Mark all your notifications read", query=UserQuerySchema(),
          response=ReadStateSchema, tags=("notifications",))
def mark_all_read(query):
    """Every device of yours gets `notification:read` with unreadCount 0."""
    owner = service.inbox_owner(current_principal(), query.get("userId"))
    return ok(service.mark_all_read(owner))
