"""DevTracker Realtime: the application factory and its small register_* helpers."""
import logging
import os

from flask import Flask

from .config import Config, load_config
from .strictjson import SocketJSON, dumps, json_provider

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(config=None):
    """Build the app from a Config instance, an environment name, or DEVTRACKER_ENV."""
    if config is None or isinstance(config, str):
        config = load_config(config)
    app = Flask(__name__, static_folder=os.path.join(ROOT, "static"),
                template_folder=os.path.join(ROOT, "templates"),
                instance_path=os.path.join(ROOT, "instance"))
    app.config.from_object(config)
    app.json = json_provider(app)
    app.config["ENV_NAME"] = getattr(config, "ENV_NAME", "custom")
    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    register_security(app)
    install_engine(app)
    return app


def install_engine(app):
    """The library patches of devtracker/engine (its PATCHES table), last, for every entry point:
    `python app.py`, gunicorn's `wsgi:app` and `flask` commands all build the app here."""
    from . import engine

    engine.install(app)


def configure_logging(app):
    """One readable line per record, at LOG_LEVEL."""
    level = getattr(logging, app.config["LOG_LEVEL"], logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("devtracker").setLevel(level)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    app.logger.setLevel(level)


def register_extensions(app):
    """Bind the bare extension instances, and choose the presence store."""
    from .auth import register_jwt_handlers
    from .extensions import db, jwt, limiter, migrate, socketio
    from .metrics import init_metrics
    from .sockets import client_manager, init_namespace, packet_log
    from .realtime.presence import init_presence
    from .sockets.context import socketio_path_rules
    from .sockets.cors import origin_checker

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        os.makedirs(os.path.dirname(app.config["SQLALCHEMY_DATABASE_URI"][len("sqlite:///"):]) or ".",
                    exist_ok=True)
    # Nothing non-finite is stored, whichever path writes a JSON column.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"],
                                               "json_serializer": dumps}
    init_metrics(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"))
    jwt.init_app(app)
    register_jwt_handlers(jwt)
    limiter.init_app(app)
    init_presence(app)
    packet_log.install()
    socketio.init_app(
        app,
        async_mode=app.config["ASYNC_MODE"],
        client_manager=client_manager(app),
        cors_allowed_origins=origin_checker(app.config["CORS_ALLOWED_ORIGINS"]),
        ping_interval=app.config["PING_INTERVAL"],
        ping_timeout=app.config["PING_TIMEOUT"],
        # Hard cap per message; the namespace answers anything over MAX_SOCKET_MESSAGE_BYTES
        # with a clear error instead of dropping the connection.
        max_http_buffer_size=max(app.config["MAX_CONTENT_LENGTH"], app.config["MAX_SOCKET_MESSAGE_BYTES"] * 2),
        # One socket's events are handled in order: a join is done before the typing after it.
        async_handlers=False,
        # Sockets authenticate with a token; no copy of the cookie session per socket.
        manage_session=False,
        # Packets, and messages between nodes, are strict JSON both ways (strictjson.py).
        json=SocketJSON,
        logger=False,
        engineio_logger=False,
    )
    init_namespace(app, socketio)
    socketio_path_rules(app)
    if not app.config["WEBSOCKET_COMPRESSION"]:
        from .sockets.compression import DeclineCompression

        app.wsgi_app = DeclineCompression(app.wsgi_app)
    limit_greedy_peers(app, socketio)


def limit_greedy_peers(app, socketio):
    """Refuse oversized bodies at once (sockets/body_limit.py); each socket's unsent and
    sent bytes are bounded by engine patches (socket_backlog_bound, socket_input_budget)."""
    from .sockets.body_limit import BodyLimit

    eio = socketio.server.eio
    app.wsgi_app = BodyLimit(app.wsgi_app, eio.max_http_buffer_size, lambda: eio.sockets)


def register_blueprints(app):
    """The REST API and the web pages."""
    from .api import DashboardSessions
    from .api import bp as api_bp
    from .web import bp as web_bp

    app.session_interface = DashboardSessions()
    app.register_blueprint(api_bp)
    app.register_blueprint(web_bp)


def register_error_handlers(app):
    """Every error leaves as an envelope."""
    from .errors import register_error_handlers as register

    register(app)


def register_security(app):
    """Security headers on every response (outermost WSGI layer), the forms' CSRF token."""
    from .web.security import register_security as register

    register(app)


def register_commands(app):
    """`flask token`, `flask prune-activity`, `flask prune-idempotency`."""
    from .cli import register_cli

    register_cli(app)


__all__ = ["Config", "create_app"]
