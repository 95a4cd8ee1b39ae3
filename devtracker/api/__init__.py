"""REST blueprints under /api/v1/realtime (SPEC §2). Views stay thin: endpoint → service → ok."""
from flask import Blueprint, current_app

from ..extensions import limiter

API_PREFIX = "/api/v1/realtime"

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)
# REST_RATE_LIMIT per token (or per address without one), shared through Redis when configured.
limiter.limit(lambda: current_app.config["REST_RATE_LIMIT"])(bp)

from . import activity, notifications, openapi, realtime, tasks  # noqa: E402,F401  (routes)

limiter.exempt(realtime.health)
limiter.exempt(openapi.openapi)
