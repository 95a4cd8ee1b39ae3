"""Which browser origins may open sockets: this server's own, plus CORS_ALLOWED_ORIGINS."""


def _own_origins(environ):
    scheme, host = environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST")
    origins = {f"{scheme}://{host}"} if host else set()
    forwarded_host = environ.get("HTTP_X_FORWARDED_HOST", host or "").split(",")[0].strip()
    forwarded_proto = environ.get("HTTP_X_FORWARDED_PROTO", scheme).split(",")[0].strip()
    if forwarded_host:
        origins.add(f"{forwarded_proto}://{forwarded_host}")
    return origins


def origin_checker(allowlist):
    """A python-engineio origin check: same origin always, listed origins too, `*` for any."""
    allowed = {origin.rstrip("/") for origin in allowlist}

    def check(origin, environ):
        return "*" in allowed or origin in allowed or origin in _own_origins(environ)

    return check
