"""The server-rendered dashboard: sign-in, the team overview and the task page."""
import os
import re
import secrets
from datetime import timedelta

from flask import (Blueprint, abort, current_app, make_response, redirect, render_template, request,
                   send_from_directory, session, url_for)
from flask_jwt_extended import create_access_token

from ..api.blueprint import API_PREFIX
from ..auth import principal_from_token
from ..errors import AppError
from ..ids import is_id
from .security import require_same_site, safe_next

bp = Blueprint("web", __name__)
VENDOR = {"socket.io-client": ("node_modules", "socket.io-client", "dist")}
DEMO_TOKEN_HOURS = 12


def _root():
    return os.path.dirname(current_app.root_path)


def _signed_in():
    """The session's principal, or None when there is none or its token no longer holds."""
    token = session.get("token")
    if not token:
        return None, None
    try:
        return principal_from_token(token), token
    except AppError:
        session.pop("token", None)
        return None, None


def _page(template, **context):
    principal, token = _signed_in()
    if principal is None:
        return redirect(url_for("web.signin", next=request.path))
    response = make_response(render_template(template, user=principal, token=token,
                                             api_prefix=API_PREFIX, **context))
    # The page carries the user's bearer token: no shared or back-button cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


def slug(name):
    """A user id from a display name: `Alice Smith` → `alice-smith`."""
    value = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64]
    return value or f"user-{secrets.token_hex(3)}"


@bp.get("/")
def index():
    """The team overview: who is online, the activity feed, notifications."""
    return _page("dashboard.html", page="overview")


@bp.get("/tasks/<task_id>")
def task(task_id):
    """One task: who is viewing it, who is typing, its live updates and comments."""
    if not is_id(task_id):
        abort(404)
    return _page("task.html", page="task", task_id=task_id)


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    """Demo sign-in (development) or a token handed over by the main DevTracker app."""
    demo = current_app.config["DEMO_LOGIN_ENABLED"]
    error = None
    if request.method == "POST":
        require_same_site()
        token = (request.form.get("token") or "").strip()
        name = (request.form.get("name") or "").strip()[:80]
        role = request.form.get("role", "user")
        if token:
            try:
                principal_from_token(token)
                session["token"] = token
            except AppError as exc:
                error = exc.message
        elif demo and name and role in ("user", "admin"):
            session["token"] = create_access_token(
                identity=slug(name), expires_delta=timedelta(hours=DEMO_TOKEN_HOURS),
                additional_claims={"username": name, "role": role})
        else:
            error = "Enter your name." if demo else "Paste a DevTracker token."
        if error is None:
            return redirect(safe_next(request.args.get("next")))
    return render_template("signin.html", demo=demo, error=error, api_prefix=API_PREFIX), (400 if error else 200)


@bp.post("/signout")
def signout():
    """Forget the session's token."""
    require_same_site()
    session.pop("token", None)
    return redirect(url_for("web.signin"))


@bp.get("/vendor/<package>/<path:filename>")
def vendor(package, filename):
    """Browser builds of npm packages, served from node_modules (no CDN: works offline)."""
    if package not in VENDOR:
        abort(404)
    return send_from_directory(os.path.join(_root(), *VENDOR[package]), filename, max_age=3600)
