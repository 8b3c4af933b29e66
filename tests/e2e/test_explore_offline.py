"""The explorer attempts no outbound connection, whatever a client sends.

The server runs in this process with every socket connection and name lookup to a
non-loopback address recorded and made to fail; hostile requests that would make
Gradio look up or download a public URL are sent; none may be attempted.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket

import pytest

pytest.importorskip("gradio")
pytestmark = pytest.mark.xdist_group("explore")


def _loopback(host) -> bool:
    host = str(host).strip("[]")
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture
def attempts(monkeypatch):
    seen: list[str] = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self, address):
        if isinstance(address, tuple) and not _loopback(address[0]):
            seen.append(f"connect {address}")
            raise OSError("outbound connection refused by the test")
        return real_connect(self, address)

    def getaddrinfo(host, *a, **k):
        if host is not None and not _loopback(host):
            seen.append(f"lookup {host}")
            raise OSError("name lookup refused by the test")
        return real_getaddrinfo(host, *a, **k)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return seen


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_no_outbound_request_is_attempted(tmp_path, attempts):
    from convscope.explore import build_app, launch

    demo = build_app(cache=tmp_path, train_classifier=False)
    port = _free_port()
    launch(demo, port=port, browser=False, block=False, quiet=True)
    try:
        info = json.loads(_request(port, "GET", "/gradio_api/info")[1])
        assert "named_endpoints" in info  # the server answers this machine
        for url in ("http://example.com/a.png", "https://93.184.216.34/a.png", "http%3A%2F%2Fexample.com%2Fa"):
            status, text = _request(port, "GET", f"/gradio_api/file={url}")
            assert status == 403 and b"remote files are not fetched" in text
        fn = next(i for i, d in enumerate(demo.config["dependencies"]) if d.get("api_name") == "theorem")
        remote = {"path": "https://example.com/photo.png", "url": "https://example.com/photo.png",
                  "meta": {"_type": "gradio.FileData"}}
        body = json.dumps({"data": ["camera", remote, "gaussian:9", True], "fn_index": fn,
                           "session_hash": "offline-test", "event_data": None, "trigger_id": None}).encode()
        status, text = _request(port, "POST", "/gradio_api/queue/join", body, {"Content-Type": "application/json"})
        assert status == 403 and b"remote files are not fetched" in text
        status, text = _request(port, "POST", "/gradio_api/run/theorem",
                                json.dumps({"data": ["camera", remote, "gaussian:9", True]}).encode(),
                                {"Content-Type": "application/json"})
        assert status == 403
    finally:
        demo.close()
    assert attempts == [], attempts
