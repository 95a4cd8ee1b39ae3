"""REST blueprints under /api/v1/realtime (SPEC §2). Views stay thin: endpoint → service → ok."""
from flask.sessions import SecureCookieSessionInterface

from ..sockets.context import is_socketio_path
from . import activity, notifications, openapi, realtime, tasks  # noqa: F401  (routes)
from .blueprint import API_PREFIX, bp


class DashboardSessions(SecureCookieSessionInterface):
    """The signed-cookie session belongs to the dashboard's pages. REST calls and Socket.IO
    events authenticate with a bearer token and never use it: they get Flask's null session,
    which costs nothing to open or save (opening a cookie session took ~3 % of a notify's CPU,
    and Flask-SocketIO opens one for every event)."""

    def open_session(self, app, request):
        if request.path.startswith(API_PREFIX + "/") or is_socketio_path(request.path):
            return self.make_null_session(app)
        return super().open_session(app, request)



__all__ = ["API_PREFIX", "DashboardSessions", "bp"]
