"""Websocket compression is declined unless WEBSOCKET_COMPRESSION is on."""
import asyncio

import pytest
import websockets

from tests.support.server import LiveServer


async def negotiated_extensions(url):
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with websockets.connect(ws_url, compression="deflate") as ws:
        await ws.recv()  # the Engine.IO open packet
        return ws.response.headers.get("Sec-WebSocket-Extensions")


@pytest.mark.parametrize("setting, expected", [(None, None), ("true", "permessage-deflate")])
def test_a_browsers_deflate_offer_is_declined_by_default(database_url, tmp_path, setting, expected):
    settings = {"WEBSOCKET_COMPRESSION": setting} if setting else {}
    server = LiveServer(database_url, tmp_path / "server.log", **settings).start()
    try:
        extensions = asyncio.run(negotiated_extensions(server.url))
        if expected is None:
            assert extensions is None
        else:
            assert extensions is not None and extensions.startswith(expected)
    finally:
        server.stop()
