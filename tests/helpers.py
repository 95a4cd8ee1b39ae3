"""Small helpers shared by tests."""


def received(sock, name=None):
    """Events a Socket.IO test client received since last asked, as (name, payload) pairs."""
    events = [(pkt["name"], pkt["args"][0] if pkt["args"] else None) for pkt in sock.get_received()]
    return [e for e in events if name is None or e[0] == name]


def assert_error(response, status, code):
    """Assert an error envelope with this status and code; return its error member."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "data" not in body or status == 503
    return body["error"]


def assert_ok(response, status=200):
    """Assert a success envelope with this status; return its data."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["success"] is True
    assert set(body) == {"success", "data"}
    return body["data"]
