"""The realtime side: presence stores, rooms and (next) the Socket.IO namespace."""
from flask import current_app

from .presence import MemoryPresenceStore, PresenceStore

EXTENSION_KEY = "devtracker.presence"


def init_presence(app):
    """Choose the presence store once, at start-up."""
    app.extensions[EXTENSION_KEY] = MemoryPresenceStore()


def get_presence() -> PresenceStore:
    """The app's presence store."""
    return current_app.extensions[EXTENSION_KEY]
