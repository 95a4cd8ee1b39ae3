"""ServiceClient: publish into DevTracker Realtime from another service, with safe retries.

Run against `make run` with a token from `make token ARGS="--user-id svc-tasks --role service"`::

    from devtracker.client import ServiceClient

    svc = ServiceClient("http://127.0.0.1:5000", token)
    note = svc.notify("alice", "assignment", "New task", "You own task_123 now", task_id="task_123")
    svc.publish_task_update("task_123", "status_changed", {"id": "task_123", "status": "DONE"},
                            owner_id="alice", actor={"userId": "bob", "username": "Bob"})
    print(note["id"], svc.unread_count("alice"))

Every write carries an `Idempotency-Key` (one per call, the same on each of its retries), so a
retry after a lost response returns the first result and stores and sends nothing twice.
"""
import random
import time
import uuid
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import requests

from .types import (Activity, ActivityPage, BulkNotifications, Notification, NotificationPage,
                    TaskUpdate, ViewersState)

PREFIX = "/api/v1/realtime"


class ApiError(Exception):
    """An error envelope (or a transport failure, with `status` None) from the REST API."""

    def __init__(self, status, code, message, details=None, retry_after=None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.retry_after = retry_after


def _retry_after(value):
    """Seconds from a Retry-After header (seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _actor(actor):
    # Callers often only have the user id at hand; the server fills in the username.
    return {"userId": actor} if isinstance(actor, str) else actor


def _compact(**fields):
    return {key: value for key, value in fields.items() if value is not None}


class ServiceClient:
    """The REST API for backends: notify, task updates, activity, broadcasts and inbox reads."""

    def __init__(self, base_url, token, *, retries=4, timeout=10, session=None,
                 backoff_initial=0.5, backoff_max=10):
        base = base_url.rstrip("/")
        self.base_url = base if base.endswith(PREFIX) else base + PREFIX
        self.token = token
        self.retries = retries
        self.timeout = timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.session = session or requests.Session()
        self._owns_session = session is None

    def close(self):
        """Close the HTTP session if this client created it."""
        if self._owns_session:
            self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- writes ------------------------------------------------------------------------------
    def notify(self, user_id, type, title, message, task_id=None, data=None, actor=None, *,
               idempotency_key=None) -> Notification:
        """Store a notification for one user and push it to their sockets; return it."""
        body = _compact(type=type, title=title, message=message, taskId=task_id, data=data,
                        actor=_actor(actor))
        return self._write(f"/notify/{quote(user_id, safe='')}", body, idempotency_key)

    def notify_many(self, user_ids, type, title, message, task_id=None, data=None, actor=None, *,
                    idempotency_key=None) -> BulkNotifications:
        """Store one notification per recipient (all or none); return `{count, notifications}`."""
        body = _compact(userIds=list(user_ids), type=type, title=title, message=message,
                        taskId=task_id, data=data, actor=_actor(actor))
        return self._write("/notify", body, idempotency_key)

    def publish_task_update(self, task_id, action, task, owner_id=None, actor=None, *,
                            idempotency_key=None) -> TaskUpdate:
        """Push `task:updated` to the task room and the owner, recorded as activity."""
        body = _compact(taskId=task_id, action=action, task=task, ownerId=owner_id,
                        actor=_actor(actor))
        return self._write("/task/update", body, idempotency_key)

    def record_activity(self, type, action, target, task_id=None, data=None, actor=None, *,
                        idempotency_key=None) -> Activity:
        """Store an activity and stream it to everyone as `activity:feed`; return it."""
        body = _compact(type=type, action=action, target=target, taskId=task_id, data=data,
                        actor=_actor(actor))
        return self._write("/activity", body, idempotency_key)

    def broadcast(self, event, message, data=None, *, idempotency_key=None):
        """Admins only: send `event` (it must start with `system:`) to every connected socket."""
        return self._write("/broadcast", _compact(event=event, message=message, data=data),
                           idempotency_key)

    # --- reads -------------------------------------------------------------------------------
    def unread_count(self, user_id=None) -> int:
        """How many notifications are unread (another user's: services and admins only)."""
        return self._request("GET", "/notifications/unread-count",
                             params=_compact(userId=user_id))["unreadCount"]

    def list_notifications(self, user_id=None, *, unread=False, limit=None,
                           before=None) -> NotificationPage:
        """A page of notifications, newest first; pass `nextCursor` back as `before`."""
        params = _compact(userId=user_id, unread="true" if unread else None, limit=limit,
                          before=before)
        return self._request("GET", "/notifications", params=params)

    def list_activity(self, *, limit=None, before=None, after=None, user_id=None, type=None,
                      task_id=None) -> ActivityPage:
        """Activity history, newest first (oldest first with `after`), optionally filtered."""
        params = _compact(limit=limit, before=before, after=after, userId=user_id, type=type,
                          taskId=task_id)
        return self._request("GET", "/activity", params=params)

    def task_users(self, task_id) -> ViewersState:
        """Who is viewing and typing in a task."""
        return self._request("GET", f"/task/{quote(task_id, safe='')}/users")

    def online_users(self):
        """`{count, users}`: every connected user with their presence."""
        return self._request("GET", "/users/online")

    # --- plumbing ----------------------------------------------------------------------------
    def _write(self, path, body, idempotency_key=None):
        # One key per call, reused by every retry: that is what makes the retry safe.
        return self._request("POST", path, json=body, key=idempotency_key or str(uuid.uuid4()))

    def _request(self, method, path, *, json=None, params=None, key=None):
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key
        attempt = 0
        while True:
            try:
                response = self.session.request(method, self.base_url + path, json=json,
                                                params=params, headers=headers, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                error = ApiError(None, "CONNECTION_FAILED", str(exc))
            else:
                if response.status_code < 400:
                    return self._data(response)
                error = self._error(response)
                if response.status_code != 429 and response.status_code < 500:
                    raise error  # the same request would fail the same way
            if attempt >= self.retries:
                raise error
            wait = error.retry_after
            time.sleep(wait if wait is not None else self._backoff(attempt))
            attempt += 1

    def _backoff(self, attempt):
        # Full-range jitter so that many services retrying after one outage do not stampede.
        delay = min(self.backoff_max, self.backoff_initial * 2 ** attempt)
        return delay * random.uniform(0.5, 1.0)

    @staticmethod
    def _data(response):
        if not response.content:
            return None
        body = response.json()
        return body.get("data") if isinstance(body, dict) else body

    @staticmethod
    def _error(response):
        retry_after = _retry_after(response.headers.get("Retry-After"))
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        code = error.get("code") or f"HTTP_{response.status_code}"
        message = error.get("message") or response.reason or response.text[:200]
        return ApiError(response.status_code, code, message, error.get("details"), retry_after)
