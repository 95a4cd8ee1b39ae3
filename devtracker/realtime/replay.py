"""Replay after (re)connection: what a socket missed, in order, before any live event."""
from ..services.activity import activity_after, newest_activity_id
from ..services.notifications import newest_notification_id, notifications_after, unread_notifications


def replay(send, user_id, last_notification_id, last_activity_id, activity_limit):
    """Send what is newer than the cursors; return (replay:done payload, keep filter for held events).

    Without a notification cursor the user's unread notifications are sent; without an
    activity cursor no activity is. The filter drops held live events the replay covered.

    `replay:done` also says where each stream stands (`lastNotificationId`, `lastActivityId`):
    the socket has everything up to there, so a client that starts without cursors can
    resume from these after a drop. They are read before the replay, so nothing between
    them and the live events that follow can be missed.
    """
    position_notification = newest_notification_id(user_id)
    position_activity = newest_activity_id()
    if last_notification_id is None:
        notes = unread_notifications(user_id)
    else:
        notes = notifications_after(user_id, last_notification_id)
    activities, truncated = [], False
    if last_activity_id is not None and activity_limit > 0:
        activities, truncated = activity_after(last_activity_id, activity_limit)
    elif last_activity_id is not None:
        truncated = True
    for note in notes:
        send("notification", note)
    for activity in activities:
        send("activity:feed", activity)
    seen = {"notification": ({n["id"] for n in notes}, last_notification_id or 0),
            "activity:feed": ({a["id"] for a in activities}, last_activity_id or 0)}

    def keep(event, data):
        if event not in seen or not isinstance(data, dict):
            return True
        ids, cursor = seen[event]
        return data.get("id") not in ids and data.get("id", 0) > cursor

    summary = {"notifications": len(notes), "activity": len(activities), "truncated": truncated,
               "lastNotificationId": _newest(position_notification, notes),
               "lastActivityId": _newest(position_activity, activities)}
    return summary, keep


def _newest(position, replayed):
    """Where a stream stands after the replay (a client's cursor beyond it changes nothing)."""
    ids = [i for i in (position, replayed[-1]["id"] if replayed else None) if i is not None]
    return max(ids) if ids else None
