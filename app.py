"""Development entry point: `python app.py` (what `make run` starts). See `--help`."""
import os
import warnings

# eventlet is in bug-fix-only mode and says so at length on import; our docs say it once.
warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

# Monkey-patch first, before Flask or anything that imports socket/threading.
ASYNC_MODE = os.environ.get("ASYNC_MODE") or "eventlet"
if ASYNC_MODE == "eventlet":
    import eventlet

    eventlet.monkey_patch()
elif ASYNC_MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()

import argparse  # noqa: E402
import sys  # noqa: E402


def parse_args(argv=None):
    """Command-line options; the environment variables give the defaults."""
    parser = argparse.ArgumentParser(
        prog="python app.py",
        description="Run the DevTracker Realtime server: applies database migrations, then serves "
                    "the REST API, the Socket.IO endpoint and the web pages.",
        epilog="Every setting is an environment variable; see the README's Settings table.")
    parser.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1",
                        help="address to listen on (HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 5000),
                        help="port to listen on (PORT, default 5000)")
    parser.add_argument("--env", choices=("development", "production"),
                        default=os.environ.get("DEVTRACKER_ENV") or "development",
                        help="configuration to use (DEVTRACKER_ENV, default development)")
    parser.add_argument("--no-migrate", action="store_true",
                        help="do not apply database migrations before serving")
    return parser.parse_args(argv)


def main(argv=None):
    """Migrate, then serve until interrupted."""
    args = parse_args(argv)
    from devtracker import create_app
    from devtracker.config import ConfigError
    from devtracker.server import serve

    try:
        app = create_app(args.env)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.no_migrate:
        from flask_migrate import upgrade

        with app.app_context():
            app.logger.info("applying database migrations")
            upgrade()
    try:
        serve(app, args.host, args.port)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
