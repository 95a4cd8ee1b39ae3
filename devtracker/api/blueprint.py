"""The REST API's blueprint, under /api/v1/realtime (SPEC §2), and its shared rate limit."""
from flask import Blueprint, current_app, request

from ..extensions import limiter

API_PREFIX = "/api/v1/realtime"
UNLIMITED_ENDPOINTS = {"api.health", "api.openapi"}

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)
# One REST_RATE_LIMIT budget per token across every route (per address without a token),
# shared through Redis when configured. Health checks and the API document are never limited.
limiter.shared_limit(lambda: current_app.config["REST_RATE_LIMIT"], scope="rest",
                     exempt_when=lambda: request.endpoint in UNLIMITED_ENDPOINTS)(bp)
