"""The Socket.IO endpoint: the `/` namespace, its client manager, and what the factory wires."""
from ..presence import EXTENSION_KEY

NAMESPACE_KEY = "devtracker.namespace"


def client_manager(app):
    """The Socket.IO client manager: Redis pub/sub across processes when REDIS_URL is set."""
    from ..delivery.manager import RealtimeManager, RealtimeRedisManager

    if app.config["REDIS_URL"]:
        manager = RealtimeRedisManager(app.config["REDIS_URL"],
                                       channel=f"{app.config['REDIS_KEY_PREFIX']}:socketio")
    else:
        manager = RealtimeManager()
    if app.config["ASYNC_MODE"] == "eventlet" and app.config["BROADCAST_FAST_PATH"]:
        manager.use_fast_path(app.config["BROADCAST_COALESCE_SECONDS"],
                              lazy_events=("user:online", "user:offline", "presence:update"))
    return manager


def init_namespace(app, socketio):
    """Register the `/` namespace on the app's Socket.IO server."""
    from ...services.users import DIRECTORY_KEY, DirectoryWriter
    from ..acks import install_ack_probe
    from .namespace import RealtimeNamespace

    install_ack_probe(socketio.server)
    app.extensions[DIRECTORY_KEY] = DirectoryWriter(app, socketio.start_background_task, socketio.sleep)
    namespace = RealtimeNamespace(app, app.extensions[EXTENSION_KEY], socketio.server.manager.gate)
    socketio.on_namespace(namespace)
    app.extensions[NAMESPACE_KEY] = namespace
    return namespace
