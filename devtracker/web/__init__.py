"""Server-rendered pages."""
from flask import Blueprint, render_template

from ..api import API_PREFIX

bp = Blueprint("web", __name__)


@bp.get("/")
def index():
    """The landing page: what this server is and where its API lives."""
    return render_template("index.html", api_prefix=API_PREFIX)
