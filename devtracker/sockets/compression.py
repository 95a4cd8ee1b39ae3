"""Declining `permessage-deflate`: browsers offer it on every websocket.

With it, the websocket server keeps a zlib compressor per socket (about 150 KiB each after a
few messages) and compresses every frame once per socket, which makes fan-out cost grow with
compression work instead of staying a copy of one encoded frame. Events here are small JSON,
so by default the extension is declined (WEBSOCKET_COMPRESSION=false); set it to true when
bandwidth matters more than memory and CPU.
"""


class DeclineCompression:
    """WSGI middleware that hides the client's websocket extension offer from the server."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return self.wsgi_app(environ, start_response)
