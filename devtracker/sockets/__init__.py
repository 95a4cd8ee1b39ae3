"""The Socket.IO endpoint: the `/` namespace, its client manager, and what the factory wires."""
from ..realtime.presence import EXTENSION_KEY

NAMESPACE_KEY = "devtracker.namespace"
# Presence events: in a connect storm every socket's `user:online` goes to every other socket,
# so these may wait as long as the last delivery took (see delivery/manager.py `coalesce`).
LAZY_EVENTS = ("user:online", "user:offline", "presence:update")


def client_manager(app):
    """The Socket.IO client manager: Redis pub/sub across processes when REDIS_URL is set.
    Under eventlet, `engine.install` switches its broadcast fast path on."""
    from ..realtime.delivery.manager import RealtimeManager, RealtimeRedisManager

    if app.config["REDIS_URL"]:
        manager = RealtimeRedisManager(app.config["REDIS_URL"],
                                       channel=f"{app.config['REDIS_KEY_PREFIX']}:socketio")
    else:
        manager = RealtimeManager()
    manager.coalesce(app.config["BROADCAST_COALESCE_SECONDS"], lazy_events=LAZY_EVENTS)
    return manager


def init_namespace(app, socketio):
    """Register the `/` namespace on the app's Socket.IO server, and its /metrics."""
    from ..metrics import register_collector
    from ..services.users import DIRECTORY_KEY, DirectoryWriter
    from .metrics import RealtimeCollector
    from .namespace import RealtimeNamespace

    app.extensions[DIRECTORY_KEY] = DirectoryWriter(app, socketio.start_background_task, socketio.sleep)
    namespace = RealtimeNamespace(app, app.extensions[EXTENSION_KEY], socketio.server.manager.gate)
    socketio.on_namespace(namespace)
    namespace.start_upkeep()
    app.extensions[NAMESPACE_KEY] = namespace
    register_collector(app, RealtimeCollector(app, socketio))
    return namespace
