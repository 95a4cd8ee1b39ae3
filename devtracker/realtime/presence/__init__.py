"""Presence: the `PresenceStore` interface (base.py) and its two stores, in this process's
memory (memory_store.py) or in Redis for a cluster (redis_store.py), chosen once at start-up."""
from flask import current_app

from .base import AWAY, OFFLINE, ONLINE, PresenceStore
from .memory_store import MemoryPresenceStore

EXTENSION_KEY = "devtracker.presence"


def init_presence(app):
    """Choose the presence store once, at start-up: Redis when REDIS_URL is set, else memory."""
    config = app.config
    if config["REDIS_URL"]:
        from .redis_store import RedisPresenceStore

        store = RedisPresenceStore(config["REDIS_URL"], config["REDIS_KEY_PREFIX"],
                                   node_ttl=config["NODE_TTL_SECONDS"])
    else:
        store = MemoryPresenceStore()
    app.extensions[EXTENSION_KEY] = store
    return store


def get_presence() -> PresenceStore:
    """The app's presence store."""
    return current_app.extensions[EXTENSION_KEY]


__all__ = ["AWAY", "EXTENSION_KEY", "OFFLINE", "ONLINE", "MemoryPresenceStore", "PresenceStore",
           "get_presence", "init_presence"]
