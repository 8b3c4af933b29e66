"""The explorer's request guard on its own: a plain ASGI app behind it, no server, no Gradio."""

from __future__ import annotations

import asyncio

import pytest

from convscope.explore.guard import MAX_UPLOAD_FILES, RequestGuard, allowed_names, host_name

PORT = 7860


class Recorder:
    """An ASGI app that answers 200 and keeps the body it was handed."""

    def __init__(self):
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send):
        body = b""
        if scope["type"] == "http":
            while True:
                m = await receive()
                body += m.get("body", b"")
                if not m.get("more_body"):
                    break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def call(guard, *, host="127.0.0.1:7860", method="GET", headers=(), body=b"", chunk=None, kind="http"):
    hs = [(b"host", host.encode())] if host is not None else []
    hs += [(k.lower().encode(), v.encode()) for k, v in headers]
    scope = {"type": kind, "method": method, "path": "/gradio_api/upload", "headers": hs}
    chunks = [body[i:i + chunk] for i in range(0, len(body), chunk)] if chunk and body else [body]
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(m):
        sent.append(m)

    asyncio.run(guard(scope, receive, send))
    if kind == "websocket":
        return sent[0]
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def guard(**kw):
    app = Recorder()
    return RequestGuard(app, names=allowed_names("127.0.0.1"), port=PORT, **kw), app


@pytest.mark.parametrize("host", ["127.0.0.1:7860", "localhost:7860", "LOCALHOST", "[::1]:7860", "127.0.0.1"])
def test_the_machines_own_names_pass(host):
    g, _ = guard()
    assert call(g, host=host) == (200, b"ok")


@pytest.mark.parametrize("host", ["evil.example:7860", "evil.example", "127.0.0.1.evil.example:7860",
                                  "192.168.1.5:7860", "0.0.0.0:7860", "", None, "127.0.0.1:notaport", "[::1"])
def test_any_other_host_is_refused_before_the_app_runs(host):
    """DNS rebinding: a page on evil.example, its name pointed at 127.0.0.1, sends Host: evil.example."""
    g, app = guard()
    status, text = call(g, host=host)
    assert status == 403 and b"host not allowed" in text
    assert app.bodies == [] and g.refused == 1


def test_allowed_names_add_host_and_extras_but_not_wildcards():
    assert allowed_names("0.0.0.0") == {"127.0.0.1", "localhost", "::1"}
    assert allowed_names("::", ["Box.Local", "[fe80::1]"]) == {"127.0.0.1", "localhost", "::1", "box.local",
                                                               "fe80::1"}
    assert host_name("[::1]:7860") == "::1" and host_name("Example.COM:80") == "example.com"
    assert host_name("a:b:c") is None and host_name(None) is None


@pytest.mark.parametrize(("origin", "ok"), [
    ("http://127.0.0.1:7860", True),
    ("http://localhost:7860", True),
    ("http://[::1]:7860", True),
    ("https://evil.example", False),
    ("http://127.0.0.1:8000", False),  # another server on this machine is another origin
    ("http://localhost", False),
    ("null", False),  # sandboxed frames and file:// pages
    ("file://", False),
    ("http://127.0.0.1:7860.evil.example", False),
])
def test_a_foreign_origin_is_refused(origin, ok):
    g, app = guard()
    status, text = call(g, method="POST", headers=[("Origin", origin)])
    assert (status == 200) is ok, (origin, status, text)
    if not ok:
        assert b"cross-origin request refused" in text and app.bodies == []


@pytest.mark.parametrize(("site", "mode", "method", "ok"), [
    ("same-origin", "cors", "POST", True),
    ("none", "navigate", "GET", True),  # typed in the address bar
    ("cross-site", "navigate", "GET", True),  # a link to the explorer still opens it
    ("cross-site", "no-cors", "GET", False),  # an <img> or <script> of another page
    ("cross-site", "navigate", "POST", False),  # a cross-site form post
    ("same-site", "no-cors", "GET", False),  # another port of localhost is the same site
])
def test_fetch_metadata(site, mode, method, ok):
    g, _ = guard()
    status, _ = call(g, method=method, headers=[("Sec-Fetch-Site", site), ("Sec-Fetch-Mode", mode)])
    assert (status == 200) is ok


def _multipart(n: int, size: int = 10, boundary: str = "XyZ") -> tuple[list[tuple[str, str]], bytes]:
    parts = b"".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"f{i}.png\"\r\n"
                     f"Content-Type: image/png\r\n\r\n".encode() + b"\x89" * size + b"\r\n" for i in range(n))
    return [("Content-Type", f'multipart/form-data; boundary="{boundary}"')], parts + f"--{boundary}--\r\n".encode()


def test_an_upload_within_the_limits_reaches_the_app_unchanged():
    g, app = guard()
    headers, body = _multipart(MAX_UPLOAD_FILES)
    assert call(g, method="POST", headers=headers, body=body, chunk=7)[0] == 200
    assert app.bodies == [body]


def test_too_many_files_in_one_upload_are_refused_before_the_app_sees_any():
    g, app = guard()
    headers, body = _multipart(MAX_UPLOAD_FILES + 1)
    status, text = call(g, method="POST", headers=headers, body=body, chunk=5)
    assert status == 413 and f"at most {MAX_UPLOAD_FILES} files per upload, got {MAX_UPLOAD_FILES + 1}".encode() in text
    assert app.bodies == []


def test_an_upload_over_the_byte_limit_is_refused():
    g, app = guard(max_bytes=1000)
    headers, body = _multipart(1, size=2000)
    status, text = call(g, method="POST", headers=headers, body=body, chunk=256)
    assert status == 413 and b"upload larger than" in text and app.bodies == []


def test_a_share_link_suffix_passes_on_any_port_only_when_given():
    app = Recorder()
    g = RequestGuard(app, names=allowed_names("127.0.0.1"), port=PORT, suffixes=(".gradio.live",))
    assert call(g, host="abc.gradio.live", headers=[("Origin", "https://abc.gradio.live")])[0] == 200
    assert call(g, host="gradio.live.evil.example")[0] == 403
    g2, _ = guard()
    assert call(g2, host="abc.gradio.live")[0] == 403


def test_a_websocket_from_another_host_is_closed():
    g, app = guard()
    assert call(g, host="evil.example", kind="websocket") == {"type": "websocket.close", "code": 1008}
    assert app.bodies == []


@pytest.mark.parametrize("path", ["/gradio_api/file=http://example.com/a.png", "/gradio_api/file=HTTPS://x/a",
                                  "/gradio_api/file=%68ttp://x", "/file=ftp://x/y", "/gradio_api/file=http%3A%2F%2Fx"])
def test_a_file_route_naming_a_url_is_refused(path):
    g, app = guard()
    status, text = _get(g, path)
    assert status == 403 and b"remote files are not fetched" in text and app.bodies == []


def _get(g, path):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(m):
        sent.append(m)

    scope = {"type": "http", "method": "GET", "path": path, "query_string": b"",
             "headers": [(b"host", b"127.0.0.1:7860")]}
    asyncio.run(g(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_a_local_file_route_passes():
    g, _ = guard()
    assert _get(g, "/gradio_api/file=/tmp/gradio/abc/x.png")[0] == 200


@pytest.mark.parametrize(("value", "ok"), [
    ("https://example.com/a.png", False),
    ("http://169.254.169.254/latest", False),
    ("HTTP://evil.example:7860/x", False),
    ("http://127.0.0.1:7860/gradio_api/file=/tmp/x.png", True),  # the page's own file URLs
    ("http://127.0.0.1:9999/x.png", False),
    ("/tmp/gradio/abc/x.png", True),
    ("x.png", True),
])
def test_a_json_call_naming_a_remote_file_is_refused(value, ok):
    import json

    g, app = guard()
    body = json.dumps({"data": [None, {"path": value, "meta": {"_type": "gradio.FileData"}}],
                       "fn_index": 9, "session_hash": "s"}).encode()
    status, text = call(g, method="POST", headers=[("Content-Type", "application/json")], body=body, chunk=17)
    assert (status == 200) is ok, (value, status, text)
    if ok:
        assert app.bodies == [body]  # handed on unchanged
    else:
        assert b"remote files are not fetched" in text and app.bodies == []
    url_body = json.dumps({"data": [{"url": value, "path": "x.png"}]}).encode()
    assert (call(guard()[0], method="POST", body=url_body)[0] == 200) is ok


def test_a_body_that_is_not_json_is_handed_on():
    g, app = guard()
    assert call(g, method="POST", body=b"not json {")[0] == 200 and app.bodies == [b"not json {"]
