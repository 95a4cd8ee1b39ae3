"""Configuration classes, read from the environment once at start-up.

Every setting is documented in the README's "Settings" table; keep the two in step.
"""
import math
import os
from collections import Counter

DEV_JWT_SECRET = "dev-insecure-secret-change-me-before-production"
ASYNC_MODES = ("eventlet", "gevent", "threading")
SQLITE_SYNCHRONOUS_MODES = ("FULL", "EXTRA", "NORMAL")
MIN_SECRET_LENGTH = 32
MIN_SECRET_BITS = 64
MAKE_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


class ConfigError(RuntimeError):
    """A setting has a value the server cannot run with."""


def env_str(name, default=None):
    """Return a string setting, or `default` when unset or empty."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name, default, minimum=0):
    """Return an integer setting; refuse anything that is not a whole number >= minimum."""
    raw = env_str(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name, default, minimum=0.0):
    """Return a number setting; refuse anything that is not a number >= minimum."""
    raw = env_str(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_bool(name, default):
    """Return a boolean setting (1/true/yes/on or 0/false/no/off)."""
    raw = env_str(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def env_list(name, default):
    """Return a comma-separated list setting."""
    raw = env_str(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def default_database_url():
    """SQLite file in ./instance, beside the checkout, unless DATABASE_URL says otherwise."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return "sqlite:///" + os.path.join(root, "instance", "devtracker.db")


def normalise_database_url(url):
    """Accept the common `postgres://` spelling and pin PostgreSQL to psycopg2 (green under eventlet)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def secret_bits(secret):
    """A low estimate of a secret's entropy in bits: its shortest repeating unit, less the
    characters that continue a run or a ±1 step (aaaa, abcd, 4321), times the Shannon entropy
    per character of that unit. Random secrets score near their length times log2(alphabet)."""
    if not secret:
        return 0.0
    n = len(secret)
    period = next(p for p in range(1, n + 1) if all(secret[i] == secret[i % p] for i in range(p, n)))
    unit = secret[:period]
    free = sum(1 for i in range(len(unit))
               if i < 2 or abs(ord(unit[i]) - ord(unit[i - 1])) > 1
               or ord(unit[i]) - ord(unit[i - 1]) != ord(unit[i - 1]) - ord(unit[i - 2]))
    per_char = -sum(k / period * math.log2(k / period) for k in Counter(unit).values())
    return per_char * free


def check_secret(name, secret):
    """Refuse a missing, default, short or guessable secret, saying how to make a good one."""
    if not secret or secret == DEV_JWT_SECRET:
        problem = "is not set (the development default is refused)"
    elif len(secret) < MIN_SECRET_LENGTH:
        problem = f"is shorter than {MIN_SECRET_LENGTH} characters"
    elif secret_bits(secret) < MIN_SECRET_BITS:
        problem = "is too easy to guess (repeated or sequential characters)"
    else:
        return
    raise ConfigError(f"{name} {problem}; production needs a random secret of its own, e.g. from: {MAKE_SECRET}")


class Config:
    """Settings shared by every environment; each reads its environment variable."""

    ENV_NAME = "base"

    def __init__(self):
        self.SECRET_KEY = env_str("SECRET_KEY") or env_str("JWT_SECRET_KEY", DEV_JWT_SECRET)
        self.JWT_SECRET_KEY = env_str("JWT_SECRET_KEY", DEV_JWT_SECRET)
        self.JWT_ALGORITHM = "HS256"
        self.JWT_DECODE_ALGORITHMS = ["HS256"]
        self.JWT_TOKEN_LOCATION = ["headers"]
        self.JWT_IDENTITY_CLAIM = "sub"
        self.JWT_DECODE_LEEWAY = env_int("JWT_LEEWAY_SECONDS", 10)
        self.JWT_ACCESS_TOKEN_EXPIRES = False  # tokens minted here carry the exp asked for
        # A token without `exp` never expires: refused when this is on (production's default).
        self.TOKEN_REQUIRE_EXP = env_bool("TOKEN_REQUIRE_EXP", False)

        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            env_str("DATABASE_URL", default_database_url()))
        # A server connection can go stale between requests (restarts, idle timeouts): check it
        # when taken from the pool. A SQLite file cannot, and the check cost a query per request.
        self.SQLALCHEMY_ENGINE_OPTIONS = {}
        if self.SQLALCHEMY_DATABASE_URI.startswith("postgresql"):
            self.SQLALCHEMY_ENGINE_OPTIONS.update(
                pool_pre_ping=True,
                pool_size=env_int("DATABASE_POOL_SIZE", 10, 1),
                max_overflow=env_int("DATABASE_MAX_OVERFLOW", 20, 0),
                pool_timeout=env_int("DATABASE_POOL_TIMEOUT", 30, 1),
            )

        # SQLite runs in WAL mode; each commit is fsynced (FULL) unless NORMAL is chosen, which
        # can lose the last commits on power loss (SPEC §4: nothing acknowledged is lost).
        self.SQLITE_SYNCHRONOUS = env_str("SQLITE_SYNCHRONOUS", "FULL").upper()
        if self.SQLITE_SYNCHRONOUS not in SQLITE_SYNCHRONOUS_MODES:
            raise ConfigError(f"SQLITE_SYNCHRONOUS must be one of {', '.join(SQLITE_SYNCHRONOUS_MODES)}, "
                              f"got {self.SQLITE_SYNCHRONOUS!r}")
        self.SQLITE_BUSY_TIMEOUT_SECONDS = env_float("SQLITE_BUSY_TIMEOUT_SECONDS", 5.0)

        self.ASYNC_MODE = env_str("ASYNC_MODE", "eventlet")
        if self.ASYNC_MODE not in ASYNC_MODES:
            raise ConfigError(f"ASYNC_MODE must be one of {', '.join(ASYNC_MODES)}, got {self.ASYNC_MODE!r}")
        self.HOST = env_str("HOST", "127.0.0.1")
        self.PORT = env_int("PORT", 5000, 1)
        self.REDIS_URL = env_str("REDIS_URL")
        self.CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
        self.LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
        self.ACCESS_LOG = env_bool("ACCESS_LOG", False)

        # Socket.IO engine (the product note: ping every 25 s, give up after 60 s).
        self.PING_INTERVAL = env_int("PING_INTERVAL", 25, 1)
        self.PING_TIMEOUT = env_int("PING_TIMEOUT", 60, 1)
        self.MAX_CONNECTIONS = env_int("MAX_CONNECTIONS", 10000, 1)
        # Slow and greedy peers: a request head must arrive within HTTP_HEADER_TIMEOUT_SECONDS, a
        # keep-alive connection may wait HTTP_IDLE_TIMEOUT_SECONDS for its next request (0: no
        # limit), and a socket with more than MAX_SOCKET_BACKLOG_BYTES unsent is dropped (0: none).
        self.HTTP_HEADER_TIMEOUT_SECONDS = env_float("HTTP_HEADER_TIMEOUT_SECONDS", 10.0)
        self.HTTP_IDLE_TIMEOUT_SECONDS = env_float("HTTP_IDLE_TIMEOUT_SECONDS", 60.0)
        self.MAX_SOCKET_BACKLOG_BYTES = env_int("MAX_SOCKET_BACKLOG_BYTES", 1024 * 1024, 0)
        # What one socket may send, checked before anything decodes it: bytes a second on
        # average (0: no budget) and at once; a socket that overdraws it is dropped.
        self.MAX_SOCKET_INPUT_BYTES_PER_SECOND = env_int("MAX_SOCKET_INPUT_BYTES_PER_SECOND", 64 * 1024, 0)
        self.MAX_SOCKET_INPUT_BURST_BYTES = env_int("MAX_SOCKET_INPUT_BURST_BYTES", 2 * 1024 * 1024, 1)
        self.WEBSOCKET_COMPRESSION = env_bool("WEBSOCKET_COMPRESSION", False)
        self.BROADCAST_FAST_PATH = env_bool("BROADCAST_FAST_PATH", True)
        self.BROADCAST_COALESCE_SECONDS = env_float("BROADCAST_COALESCE_SECONDS", 0.005)

        # Realtime semantics (SPEC §1, §4).
        self.AUTH_TIMEOUT_SECONDS = env_float("AUTH_TIMEOUT_SECONDS", 10.0)
        self.AUTH_EXPIRY_WARNING_SECONDS = env_float("AUTH_EXPIRY_WARNING_SECONDS", 60.0)
        self.PRESENCE_GRACE_SECONDS = env_float("PRESENCE_GRACE_SECONDS", 10.0)
        self.TYPING_TIMEOUT_SECONDS = env_float("TYPING_TIMEOUT_SECONDS", 5.0)
        self.ACTIVITY_REPLAY_LIMIT = env_int("ACTIVITY_REPLAY_LIMIT", 500, 0)

        # Limits (SPEC §4).
        self.MAX_CONTENT_LENGTH = env_int("MAX_BODY_BYTES", 1024 * 1024, 1)
        self.MAX_SOCKET_MESSAGE_BYTES = env_int("MAX_SOCKET_MESSAGE_BYTES", 64 * 1024, 1)
        self.MAX_TITLE_LENGTH = env_int("MAX_TITLE_LENGTH", 200, 1)
        self.MAX_MESSAGE_LENGTH = env_int("MAX_MESSAGE_LENGTH", 2000, 1)
        self.MAX_DATA_BYTES = env_int("MAX_DATA_BYTES", 16 * 1024, 2)
        self.MAX_TASK_BYTES = env_int("MAX_TASK_BYTES", 32 * 1024, 2)
        self.MAX_RECIPIENTS = env_int("MAX_RECIPIENTS", 1000, 1)
        self.SOCKET_EVENT_RATE = env_float("SOCKET_EVENT_RATE", 20.0, 0.1)
        self.SOCKET_EVENT_BURST = env_int("SOCKET_EVENT_BURST", 40, 1)
        self.TYPING_EVENT_RATE = env_float("TYPING_EVENT_RATE", 5.0, 0.1)
        self.JOIN_EVENT_RATE = env_float("JOIN_EVENT_RATE", 5.0, 0.1)
        self.MAX_TASKS_PER_SOCKET = env_int("MAX_TASKS_PER_SOCKET", 100, 1)
        self.MAX_SOCKETS_PER_USER = env_int("MAX_SOCKETS_PER_USER", 20, 1)
        self.REST_RATE_LIMIT = env_str("REST_RATE_LIMIT", "600 per minute")
        self.RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_STORAGE_URI = env_str("RATELIMIT_STORAGE_URI", self.REDIS_URL or "memory://")
        self.RATELIMIT_HEADERS_ENABLED = True
        # Flask-Limiter would put Retry-After (its window's reset) on every answer, over a 503's
        # own; a 429 gets its Retry-After from errors.py instead.
        self.RATELIMIT_HEADER_RETRY_AFTER = "X-RateLimit-Retry-After"
        # A Redis outage must not turn every request into a 500: fall back to memory limits.
        self.RATELIMIT_SWALLOW_ERRORS = True
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "devtracker")
        self.RATELIMIT_KEY_PREFIX = self.REDIS_KEY_PREFIX + ":ratelimit"
        self.NODE_TTL_SECONDS = env_float("NODE_TTL_SECONDS", 15.0, 1.0)

        # Retention.
        self.IDEMPOTENCY_TTL_HOURS = env_int("IDEMPOTENCY_TTL_HOURS", 24, 24)
        self.ACTIVITY_RETENTION_DAYS = env_int("ACTIVITY_RETENTION_DAYS", 90, 1)

        # Development conveniences.
        self.DEMO_LOGIN_ENABLED = env_bool("DEMO_LOGIN_ENABLED", True)

        # The dashboard's cookie session: never sent on another site's requests or read by
        # scripts; only over HTTPS when SESSION_COOKIE_SECURE is on (production's default).
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)

    def validate(self):
        """Refuse settings this environment cannot run with."""


class DevelopmentConfig(Config):
    """`make run`: the embedded defaults, demo sign-in on."""

    ENV_NAME = "development"


class TestConfig(Config):
    """pytest: threading mode, its own database, no rate limit unless a test asks."""

    ENV_NAME = "test"

    def __init__(self):
        super().__init__()
        self.TESTING = True
        self.ASYNC_MODE = env_str("TEST_ASYNC_MODE", "threading")
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            env_str("TEST_DATABASE_URL", "sqlite://"))
        if self.SQLALCHEMY_DATABASE_URI.startswith("sqlite://"):
            self.SQLALCHEMY_ENGINE_OPTIONS = {}
        self.RATELIMIT_ENABLED = False
        self.RATELIMIT_STORAGE_URI = "memory://"
        self.PRESENCE_GRACE_SECONDS = 0.2
        self.TYPING_TIMEOUT_SECONDS = 0.5


class ProductionConfig(Config):
    """gunicorn: demo sign-in off, a real secret required."""

    ENV_NAME = "production"

    def __init__(self):
        super().__init__()
        self.DEMO_LOGIN_ENABLED = env_bool("DEMO_LOGIN_ENABLED", False)
        self.TOKEN_REQUIRE_EXP = env_bool("TOKEN_REQUIRE_EXP", True)
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)

    def validate(self):
        """Production needs random secrets of its own: the JWT one (shared with the main
        DevTracker app) and SECRET_KEY when it is set apart from it."""
        check_secret("JWT_SECRET_KEY", self.JWT_SECRET_KEY)
        if self.SECRET_KEY != self.JWT_SECRET_KEY:
            check_secret("SECRET_KEY", self.SECRET_KEY)


CONFIGS = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def load_config(name=None):
    """Build the config named (or DEVTRACKER_ENV's, default development) and validate it."""
    name = name or env_str("DEVTRACKER_ENV", "development")
    if name not in CONFIGS:
        raise ConfigError(f"DEVTRACKER_ENV must be one of {', '.join(CONFIGS)}, got {name!r}")
    config = CONFIGS[name]()
    config.validate()
    return config
