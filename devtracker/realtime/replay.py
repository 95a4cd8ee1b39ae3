"""Replay after (re)connection: what a socket missed, in order, before any live event."""
from ..extensions import db
from ..services.activity import activity_after, newest_activity_id
from ..services.notifications import newest_notification_id, notifications_after, unread_notifications


class Replay:
    """What a socket missed, read from the database; sent with `send_to`."""

    def __init__(self, notes, activities, summary, covered):
        self.notes = notes
        self.activities = activities
        self.summary = summary  # the replay:done payload
        self._covered = covered

    def send_to(self, send):
        """Send the notifications, then the activity, oldest first."""
        for note in self.notes:
            send("notification", note)
        for activity in self.activities:
            send("activity:feed", activity)

    def keep(self, event, data):
        """Filter for held live events: drop those the replay carried or the cursor covers."""
        if event not in self._covered or not isinstance(data, dict):
            return True
        ids, cursor = self._covered[event]
        return data.get("id") not in ids and data.get("id", 0) > cursor


def read_replay(user_id, last_notification_id, last_activity_id, activity_limit):
    """Read what is newer than the cursors (reads only: safe to retry).

    Without a notification cursor the user's unread notifications are replayed; without an
    activity cursor no activity is.

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
    # Give the database connection back before sending: under a connect storm the sends wait on a
    # busy hub, and a pool held through them runs dry.
    db.session.close()
    summary = {"notifications": len(notes), "activity": len(activities), "truncated": truncated,
               "lastNotificationId": _newest(position_notification, notes),
               "lastActivityId": _newest(position_activity, activities)}
    covered = {"notification": ({n["id"] for n in notes}, last_notification_id or 0),
               "activity:feed": ({a["id"] for a in activities}, last_activity_id or 0)}
    return Replay(notes, activities, summary, covered)


def _newest(position, replayed):
    """Where a stream stands after the replay (a client's cursor beyond it changes nothing)."""
    ids = [i for i in (position, replayed[-1]["id"] if replayed else None) if i is not None]
    return max(ids) if ids else None
