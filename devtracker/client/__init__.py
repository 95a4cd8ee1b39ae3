"""Python SDK of DevTracker Realtime: a socket client for apps, a REST client for services.

Run against `make run`, with tokens from `make token ARGS="--user-id alice"` and
`make token ARGS="--user-id svc-tasks --role service"`::

    from devtracker.client import RealtimeClient, ServiceClient

    alice = RealtimeClient("http://127.0.0.1:5000", alice_token)
    alice.on("notification", lambda note: print("got", note["title"]))
    alice.connect()

    svc = ServiceClient("http://127.0.0.1:5000", service_token)
    svc.notify("alice", "mention", "You were mentioned", "in task_123", task_id="task_123")
    alice.disconnect()
"""
from . import types
from .realtime import RealtimeClient, RealtimeError
from .service import ApiError, ServiceClient

__all__ = ["ApiError", "RealtimeClient", "RealtimeError", "ServiceClient", "types"]
