"""Only this machine's own pages may talk to the explorer: an ASGI guard in front of Gradio's routes.

A server on 127.0.0.1 is not private by itself. A page on ``evil.example``
whose DNS name is rebound to 127.0.0.1 reaches it with ``Host: evil.example``,
and Gradio's CORS layer then reflects that origin (its documented rule for a
non-localhost ``Host``), so the page can read the answers. A cross-site form
post is stored even when ``Host`` is right: CORS hides the reply, not the write.
The rules here close both, before any route runs:

* **Host.** The ``Host`` header's name must be one the server was started on:
  127.0.0.1, localhost, ``::1``, the ``--host`` given, and any ``--allow-host``.
  The port is not compared: a rebinding page cannot forge the name, only the port.
* **Origin.** A request that carries ``Origin`` (every browser ``fetch``/XHR, every
  cross-site form post) must come from ``http(s)://<allowed name>:<this port>``;
  ``Origin: null`` (sandboxed frames, ``file://`` pages) is refused.
* **Fetch metadata.** A browser request marked ``Sec-Fetch-Site: cross-site`` or
  ``same-site`` (another port on this machine is the same site) is refused
  unless it is a top-level ``GET`` navigation, so a link to the explorer still
  opens it, but no ``<img>``, ``<script>`` or form of another page reaches a route.
* **Uploads.** A multipart body may hold at most ``max_files`` parts and
  ``max_bytes`` bytes; it is read and counted before Gradio sees it, so a refused
  upload leaves no file behind.
* **No outbound requests.** The explorer works offline, but Gradio does not know
  it: for a file route naming a URL (``/gradio_api/file=http://…``, which any
  page's ``<img>`` can request) its SSRF guard asks a public DNS-over-HTTPS
  resolver about the host, and a file input whose ``path`` or ``url`` is a public
  URL is downloaded. Both are refused here, before Gradio acts: a file route may
  not name a URL, and a JSON body may not hold a file whose ``path`` or ``url``
  points anywhere but this server.

Refusals are plain-text 403/413 answers of one line. The guard imports nothing
from Gradio or Starlette: it is a plain ASGI callable, tested on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

__all__ = ["LOOPBACK_NAMES", "MAX_JSON_BYTES", "MAX_UPLOAD_FILES", "RequestGuard", "allowed_names", "host_name"]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
# one file per upload control; the sketchpad sends its background, layer and composite together
MAX_UPLOAD_FILES = 8
_WILDCARDS = ("0.0.0.0", "::", "")
_SAFE_SITES = ("same-origin", "none")
_FILE_URL = re.compile(r"/file=\s*[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # /file=http:..., /file=ftp:...
MAX_JSON_BYTES = 4 * 1024 * 1024  # a JSON call's body is read whole to look for remote files


def host_name(value: str | None) -> str | None:
    """The lower-case name in a ``Host`` header or an origin's netloc (``'[::1]:7860'`` -> ``'::1'``),
    or ``None`` when it does not parse."""
    if not value:
        return None
    try:
        parts = urlsplit("//" + value.strip())
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return None
    return parts.hostname


def allowed_names(host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The names a request's ``Host`` may carry: the loopback names, ``host`` (unless a wildcard
    address, which names no one) and each of ``extra``."""
    names = set(LOOPBACK_NAMES)
    for h in (host, *extra):
        h = (h or "").strip().lower().strip("[]")
        if h not in _WILDCARDS:
            names.add(h)
    return frozenset(names)


class RequestGuard:
    """ASGI middleware enforcing the rules of the module docstring.

    Args:
        app: the ASGI application behind the guard.
        names: the allowed host names (:func:`allowed_names`).
        port: the port the server listens on; an ``Origin`` must name it.
        max_files: the most parts a multipart body may hold.
        max_bytes: the largest multipart body read, in bytes.
        suffixes: domain suffixes also allowed, on any port (``.gradio.live`` for a share link,
            whose names the server learns only once the tunnel is up).
    """

    def __init__(self, app, *, names: Iterable[str], port: int, max_files: int = MAX_UPLOAD_FILES,
                 max_bytes: int = 32 * 1024 * 1024, suffixes: Iterable[str] = ()):
        self.app = app
        self.names = frozenset(n.lower() for n in names)
        self.suffixes = tuple(s.lower() for s in suffixes)
        self.port = int(port)
        self.max_files = int(max_files)
        self.max_bytes = int(max_bytes)
        self.refused = 0  # how many requests were turned away (for tests and the log)

    # ------------------------------------------------------------------ the rules
    def _suffixed(self, name: str | None) -> bool:
        return bool(name) and any(name.endswith(s) for s in self.suffixes)

    def _origin_ok(self, origin: str) -> bool:
        try:
            u = urlsplit(origin.strip())
            port = u.port or {"http": 80, "https": 443}.get(u.scheme)
        except ValueError:
            return False
        if u.scheme not in ("http", "https"):
            return False
        return self._suffixed(u.hostname) or ((u.hostname or "") in self.names and port == self.port)

    def verdict(self, scope) -> str | None:
        """Why the request in ``scope`` is refused, or ``None`` when it may pass."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        name = host_name(headers.get("host"))
        if name not in self.names and not self._suffixed(name):
            return "host not allowed"
        origin = headers.get("origin")
        if origin is not None and not self._origin_ok(origin):
            return "cross-origin request refused"
        path = scope.get("path", "") + "?" + scope.get("query_string", b"").decode("latin-1")
        if _FILE_URL.search(path) or _FILE_URL.search(unquote(unquote(path))):
            return "remote files are not fetched"
        site = headers.get("sec-fetch-site")
        if site is not None and site.lower() not in _SAFE_SITES:
            navigation = (scope.get("method", "GET") in ("GET", "HEAD")
                          and headers.get("sec-fetch-mode", "").lower() == "navigate")
            if not navigation:
                return "cross-site request refused"
        return None

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        why = self.verdict(scope)
        if why is not None:
            self.refused += 1
            await self._refuse(scope, send, 403, why)
            return
        if scope["type"] == "http" and scope.get("method") == "POST" and self._multipart(scope):
            body, why = await self._read_counted(scope, receive)
            if why is not None:
                self.refused += 1
                await self._refuse(scope, send, 413, why)
                return
            receive = _replay(body, receive)
        elif scope["type"] == "http" and scope.get("method") in ("POST", "PUT", "PATCH"):
            body, why = await self._read_json(receive)
            if why is not None:
                self.refused += 1
                await self._refuse(scope, send, 403 if why.startswith("remote") else 413, why)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    @staticmethod
    def _multipart(scope) -> bool:
        for k, v in scope.get("headers", ()):
            if k.lower() == b"content-type":
                return v.split(b";")[0].strip().lower() == b"multipart/form-data"
        return False

    async def _read_counted(self, scope, receive) -> tuple[bytes, str | None]:
        """The whole body, or the reason it is refused (too many parts, too many bytes)."""
        ctype = next((v for k, v in scope.get("headers", ()) if k.lower() == b"content-type"), b"")
        boundary = b""
        for param in ctype.split(b";")[1:]:
            key, _, val = param.strip().partition(b"=")
            if key.strip().lower() == b"boundary":
                boundary = val.strip().strip(b'"')
        if not boundary:
            return b"", "multipart body without a boundary"
        delimiter = b"--" + boundary
        body, why = await _read_body(receive, self.max_bytes, "upload")
        if why is not None:
            return b"", why
        # every part starts with the delimiter; the closing one is the delimiter followed by "--"
        parts = body.count(delimiter) - body.count(delimiter + b"--")
        if parts > self.max_files:
            return b"", f"at most {self.max_files} files per upload, got {parts}"
        return body, None

    def _local_url(self, value: str) -> bool:
        """Whether ``value`` (a file's ``path`` or ``url``) is no URL, or one of this server's own."""
        if not re.match(r"^\s*[a-z][a-z0-9+.-]*://", value, re.IGNORECASE):
            return True
        try:
            u = urlsplit(value.strip())
            port = u.port or {"http": 80, "https": 443}.get(u.scheme)
        except ValueError:
            return False
        name = (u.hostname or "").lower()
        return u.scheme in ("http", "https") and (self._suffixed(name) or (name in self.names and port == self.port))

    def _remote_file(self, obj, depth: int = 0) -> bool:
        if depth > 64:
            return True  # nested deeper than any Gradio payload: refuse rather than recurse on
        if isinstance(obj, dict):
            for key in ("path", "url"):
                v = obj.get(key)
                if isinstance(v, str) and not self._local_url(v):
                    return True
            return any(self._remote_file(v, depth + 1) for v in obj.values())
        if isinstance(obj, list):
            return any(self._remote_file(v, depth + 1) for v in obj)
        return False

    async def _read_json(self, receive) -> tuple[bytes, str | None]:
        """The whole body, or why it is refused: over :data:`MAX_JSON_BYTES`, or naming a remote file."""
        body, why = await _read_body(receive, MAX_JSON_BYTES, "request body")
        if why is not None:
            return b"", why
        try:
            data = json.loads(body) if body.strip() else None
        except (ValueError, UnicodeDecodeError, RecursionError):
            return body, None  # not JSON: Gradio answers it as it would
        if self._remote_file(data):
            return b"", "remote files are not fetched"
        return body, None

    @staticmethod
    async def _refuse(scope, send, status: int, why: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        text = f"convscope explore: {why}\n".encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(text)).encode())]})
        await send({"type": "http.response.body", "body": text})


async def _read_body(receive, limit: int, what: str) -> tuple[bytes, str | None]:
    """The whole request body, or why it was not read: the client left, or it passed ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", "client disconnected"
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", f"{what} larger than {limit // (1024 * 1024)} MiB"
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _replay(body: bytes, receive):
    """A ``receive`` that hands the app the body already read, then defers to the real one."""
    sent = False

    async def again():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
