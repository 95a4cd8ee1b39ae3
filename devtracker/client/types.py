"""Typed shapes of the DevTracker Realtime payloads (SPEC §3), for editors and type checkers.

At runtime every payload is a plain ``dict``; these TypedDicts only describe it::

    from devtracker.client.types import Notification

    def show(note: Notification) -> None:
        print(note["id"], note["title"], note["read"])

    show({"id": 1, "type": "mention", "title": "Hi", "message": "m", "taskId": None,
          "data": None, "timestamp": "2024-01-01T00:00:00Z", "read": False})
"""
from typing import Any, Literal, NotRequired, Optional, TypedDict

Status = Literal["online", "away", "offline"]
NotificationType = Literal["mention", "assignment", "comment", "update", "deadline", "system"]
ActivityType = Literal["task", "comment", "user", "project"]
TaskAction = Literal["created", "updated", "deleted", "status_changed"]


class UserPresence(TypedDict):
    """One user across all their devices (`user:online`, `presence:update`, ...)."""

    userId: str
    username: str
    status: Status
    lastSeen: str | None
    currentTask: str | None
    devices: int


class TaskUpdate(TypedDict):
    """`task:updated`, and what `ServiceClient.publish_task_update` returns."""

    taskId: str
    action: TaskAction
    task: dict[str, Any]
    userId: str
    username: str
    timestamp: str


class Notification(TypedDict):
    """`notification`, and what `ServiceClient.notify` returns."""

    id: int
    seq: int  # the stream position: 1, 2, 3 ... with no hole (SPEC §9)
    type: NotificationType
    title: str
    message: str
    taskId: str | None
    data: dict[str, Any] | None
    timestamp: str
    read: bool


class Activity(TypedDict):
    """`activity:feed`, and what `ServiceClient.record_activity` returns."""

    id: int
    seq: int  # the stream position: 1, 2, 3 ... with no hole (SPEC §9)
    type: ActivityType
    userId: str
    username: str
    action: str
    target: str
    taskId: str | None
    data: dict[str, Any] | None
    timestamp: str


class Viewer(TypedDict):
    """One user viewing a task."""

    userId: str
    username: str
    status: Status


class ViewersState(TypedDict):
    """`task:join`'s ack data and `GET /task/<taskId>/users`."""

    taskId: str
    viewingUsers: list[Viewer]
    typingUsers: list[str]
    totalViewing: int


class ReadState(TypedDict):
    """`notification:read`: the ids that turned read and the user's unread count."""

    ids: list[int]
    unreadCount: int


class TypingEvent(TypedDict):
    """`task:typing`, sent to the room on change only."""

    userId: str
    username: str
    taskId: str
    isTyping: bool


class ViewerEvent(TypedDict):
    """`task:user_joined` and `task:user_left`."""

    userId: str
    username: str
    taskId: str


class ReplayDone(TypedDict):
    """`replay:done`: how much was replayed, whether activity hit ACTIVITY_REPLAY_LIMIT, and where
    each stream stands (everything up to those ids has been delivered)."""

    notifications: int
    activity: int
    truncated: bool
    lastNotificationId: Optional[int]
    lastActivityId: Optional[int]
    lastNotificationSeq: int
    lastActivitySeq: int


class ResyncEvent(TypedDict):
    """`resync` (local to the SDK): a live item came more than one past the last seq delivered.

    `via` "rest": the items between were read from the REST API and delivered before the held
    one; `missing` of them were not there (activity not visible to this user, or pruned) and
    were passed over. `via` "reconnect": the REST read failed, so the client reconnects and the
    replay from its seq cursor brings the hole and the held item."""

    stream: Literal["notification", "activity"]
    afterSeq: int
    beforeSeq: int
    fetched: int
    missing: int
    via: Literal["rest", "reconnect"]


class ResyncStats(TypedDict):
    """`RealtimeClient.resyncs`: repeats dropped, holes filled (over REST, by reconnecting), items
    passed over."""

    duplicates: int
    rest: int
    reconnect: int
    missing: int


class SystemEvent(TypedDict):
    """`system:*` broadcasts."""

    message: str
    data: dict[str, Any] | None
    timestamp: str


class ErrorEvent(TypedDict):
    """`error`: a failed client event sent without an ack."""

    code: str
    message: str
    event: str | None
    details: NotRequired[dict[str, Any]]


class NotificationPage(TypedDict):
    """`GET /notifications`: newest first; pass `nextCursor` back as `before`."""

    notifications: list[Notification]
    nextCursor: int | None
    hasMore: bool


class ActivityPage(TypedDict):
    """`GET /activity`: newest first, or oldest first when paging with `after`."""

    activities: list[Activity]
    nextCursor: int | None
    hasMore: bool


class BulkNotifications(TypedDict):
    """`POST /notify`: one stored notification per recipient."""

    count: int
    notifications: list[Notification]


__all__ = ["Activity", "ActivityPage", "ActivityType", "BulkNotifications", "ErrorEvent",
           "Notification", "NotificationPage", "NotificationType", "ReadState", "ReplayDone",
           "ResyncEvent", "ResyncStats", "Status", "SystemEvent", "TaskAction", "TaskUpdate",
           "TypingEvent", "UserPresence", "Viewer", "ViewerEvent", "ViewersState"]
