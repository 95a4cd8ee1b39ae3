"""The Redis message queue's listener: a short reconnect backoff, and a call after every
re-subscription.

Written for python-socketio 5.18.1 (`RedisManager._redis_listen_with_retries`, `_redis_connect`,
`pubsub`, `channel`, `_get_logger`).

python-socketio's listener doubles its wait after each failure up to 60 s, so after a Redis
restart a node may not hear the others for up to a minute; and what was published while it was
not subscribed is lost to it (Redis pub/sub keeps nothing). Here the wait grows to `retry_most`
seconds at most, and `on_resubscribed()` runs once the listener is subscribed again, so the
node can read what it missed from the database (realtime/delivery/ordered.py `catch_up`).

`install()` returns False, changing nothing, when the manager is not the expected one.
"""
import logging
import time

log = logging.getLogger(__name__)
RETRY_MOST_SECONDS = 2.0


def install(manager, on_resubscribed, retry_most=RETRY_MOST_SECONDS, sleep=time.sleep):
    """Replace `manager`'s listener loop (an instance attribute: the class is untouched)."""
    needed = ("_redis_listen_with_retries", "_redis_connect", "channel", "_get_logger")
    if not all(hasattr(manager, name) for name in needed):
        log.warning("message queue catch-up off: python-socketio's RedisManager is not the expected one")
        return False

    def listen_with_retries():
        retry = 1.0
        subscribed = False
        first = True
        while True:
            try:
                if not subscribed:
                    manager._redis_connect()
                    manager.pubsub.subscribe(manager.channel)
                    subscribed, retry = True, 1.0
                    if not first:
                        on_resubscribed()
                    first = False
                yield from manager.pubsub.listen()
            except Exception as exc:
                manager._get_logger().error("Cannot receive from redis... retrying in %g secs",
                                            retry, extra={"redis_exception": str(exc)})
                subscribed = False
                sleep(retry)
                retry = min(retry * 2, retry_most)

    manager._redis_listen_with_retries = listen_with_retries
    return True
