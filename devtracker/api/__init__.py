"""REST blueprints under /api/v1/realtime (SPEC §2). Views stay thin: endpoint → service → ok."""
from flask import Blueprint, current_app, request
from flask.sessions import SecureCookieSessionInterface

from ..extensions import limiter
from ..realtime.context import is_socketio_path

API_PREFIX = "/api/v1/realtime"
UNLIMITED_ENDPOINTS = {"api.health", "api.openapi"}

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)
# One REST_RATE_LIMIT budget per token across every route (per address without a token),
# shared through Redis when configured. Health checks and the API document are never limited.
limiter.shared_limit(lambda: current_app.config["REST_RATE_LIMIT"], scope="rest",
                     exempt_when=lambda: request.endpoint in UNLIMITED_ENDPOINTS)(bp)


class DashboardSessions(SecureCookieSessionInterface):
    """The signed-cookie session belongs to the dashboard's pages. REST calls and Socket.IO
    events authenticate with a bearer token and never use it: they get Flask's null session,
    which costs nothing to open or save (opening a cookie session took ~3 % of a notify's CPU,
    and Flask-SocketIO opens one for every event)."""

    def open_session(self, app, request):
        if request.path.startswith(API_PREFIX + "/") or is_socketio_path(request.path):
            return self.make_null_session(app)
        return super().open_session(app, request)


from . import activity, notifications, openapi, realtime, tasks  # noqa: E402,F401  (routes)
