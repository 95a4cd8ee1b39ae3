"""Replay after (re)connection: what a socket missed, in order, before any live event."""
from functools import partial

from flask import current_app

from ..extensions import db
from ..services.activity import (activity_after, activity_after_seq, activity_between, newest_activity_id,
                                 newest_activity_seq)
from ..services.notifications import (newest_notification_id, newest_notification_seq, notifications_after,
                                      notifications_after_seq, notifications_between, unread_notifications)
from ..realtime.delivery.rooms import AUTHENTICATED_ROOM, user_room


class Replay:
    """What a socket missed, read from the database; sent with `send_to`."""

    def __init__(self, notes, activities, summary, covered, positions=None):
        self.notes = notes
        self.activities = activities
        self.summary = summary  # the replay:done payload
        self._covered = covered
        # {stream key: (the seq the socket has after the replay, fetch)}: where its live events
        # start (ordered.py)
        self.positions = positions or {}
        self.loose = set()  # streams the socket joins where its held live events start

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


def read_replay(user_id, last_notification_id, last_activity_id, activity_limit,
                last_notification_seq=None, last_activity_seq=None):
    """Read what is newer than the cursors (reads only: safe to retry).

    A stream's cursor is an id or a `seq` (the seq wins when both are given). Without a
    notification cursor the user's unread notifications are replayed; without an activity
    cursor no activity is.

    `replay:done` also says where each stream stands (`lastNotificationId`, `lastActivityId`):
    the socket has everything up to there, so a client that starts without cursors can
    resume from these after a drop. They are read before the replay, so nothing between
    them and the live events that follow can be missed.
    """
    position_notification = newest_notification_id(user_id)
    position_activity = newest_activity_id()
    seq_notification = newest_notification_seq(user_id)
    seq_activity = newest_activity_seq()
    if last_notification_seq is not None:
        notes = notifications_after_seq(user_id, last_notification_seq)
    elif last_notification_id is None:
        notes = unread_notifications(user_id)
    else:
        notes = notifications_after(user_id, last_notification_id)
    activities, truncated = [], False
    activity_cursor = last_activity_seq if last_activity_seq is not None else last_activity_id
    if activity_cursor is not None and activity_limit > 0:
        if last_activity_seq is not None:
            activities, truncated = activity_after_seq(last_activity_seq, activity_limit)
        else:
            activities, truncated = activity_after(last_activity_id, activity_limit)
    elif activity_cursor is not None:
        truncated = True
    # Give the database connection back before sending: under a connect storm the sends wait on a
    # busy hub, and a pool held through them runs dry.
    db.session.close()
    summary = {"notifications": len(notes), "activity": len(activities), "truncated": truncated,
               "lastNotificationId": _newest(position_notification, notes),
               "lastActivityId": _newest(position_activity, activities),
               "lastNotificationSeq": _newest(seq_notification, notes, "seq") or 0,
               "lastActivitySeq": _newest(seq_activity, activities, "seq") or 0}
    covered = {"notification": ({n["id"] for n in notes}, last_notification_id or 0),
               "activity:feed": ({a["id"] for a in activities}, last_activity_id or 0)}
    app = current_app._get_current_object()
    positions = {("notification", user_room(user_id)): (
                     summary["lastNotificationSeq"], partial(_between, app, notifications_between, user_id)),
                 ("activity:feed", AUTHENTICATED_ROOM): (
                     summary["lastActivitySeq"], partial(_between, app, activity_between))}
    replay = Replay(notes, activities, summary, covered, positions)
    if activity_cursor is None:  # no activity replay: its live events start with the first held
        replay.loose = {("activity:feed", AUTHENTICATED_ROOM)}
    return replay


def _between(app, read, *args):
    """Read a hole's items in an app context and session of their own (the caller may be in
    the middle of its own transaction, or have none)."""
    with app.app_context():
        try:
            return read(*args)
        finally:
            db.session.remove()


def _newest(position, replayed, field="id"):
    """Where a stream stands after the replay (a client's cursor beyond it changes nothing)."""
    ids = [i for i in (position, replayed[-1][field] if replayed else None) if i is not None]
    return max(ids) if ids else None
