"""Production entry point for gunicorn: `gunicorn -k eventlet -w 1 wsgi:app`.

One worker per process (Socket.IO needs sticky sessions); scale with more processes.
"""
import os
import warnings

# eventlet is in bug-fix-only mode and says so at length on import; our docs say it once.
warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

# Monkey-patch first, before Flask or anything that imports socket/threading.
if (os.environ.get("ASYNC_MODE") or "eventlet") == "eventlet":
    import eventlet

    eventlet.monkey_patch()

from devtracker import create_app  # noqa: E402

# create_app installs the engine's patches (devtracker/engine), as for `python app.py`.
app = create_app(os.environ.get("DEVTRACKER_ENV") or "production")
