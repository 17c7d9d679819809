"""The HTTP_GET/SSL_GET checker's request and its reading of a response. Pure: bytes in,
(status, body) out, ``HttpError`` (and nothing else) for anything unreadable.

The request is HTTP/1.0-style as keepalived sends it (``GET path HTTP/1.1``, ``Host``,
``Connection: close``): the server closes the connection after the response, so the
checker reads to the end (or to the body's length) within its deadline and never holds
more than ``MAX_RESPONSE`` bytes. A response is a status line, headers, and a body by
``Content-Length``, ``Transfer-Encoding: chunked``, or the bytes until close.
"""

from __future__ import annotations

from lablb.errors import PacketError

MAX_RESPONSE = 16 << 20  # a checked page larger than this fails the check
MAX_HEADER = 64 << 10


class HttpError(PacketError):
    """A response the checker cannot read: the check fails with this reason."""


class Incomplete(HttpError):
    """The response so far is a valid beginning: read more."""


def request(path: str, host: str) -> bytes:
    """The GET request, path and host as the config gives them (UTF-8, as keepalived
    sends its config's bytes). A CR, LF or NUL in them would end the request line or a
    header early and smuggle in another: refused (``HttpError``)."""
    for name, value in (("path", path), ("Host", host)):
        if set(value) & set("\r\n\0"):
            raise HttpError("bad request", f"{name} {value!r} holds CR, LF or NUL")
    return (
        f"GET {path} HTTP/1.1\r\nUser-Agent: lablb-checker\r\nHost: {host}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("utf-8", errors="surrogateescape")


def parse_response(raw: bytes, complete: bool) -> tuple[int, bytes]:
    """(status, body) of ``raw``; ``Incomplete`` if more bytes may finish it (unless
    ``complete``: the connection closed), ``HttpError`` if it can never be a response."""
    if len(raw) > MAX_RESPONSE + MAX_HEADER:
        raise HttpError("too large", f"more than {MAX_RESPONSE} bytes")
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        if len(raw) > MAX_HEADER:
            raise HttpError("bad response", "no end of headers")
        raise (HttpError("bad response", "closed in the headers") if complete else Incomplete(""))
    lines = raw[:end].split(b"\r\n")
    status = _status(lines[0])
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise HttpError("bad response", f"header line {line[:40]!r}")
        headers[name.strip().lower()] = value.strip()
    rest = raw[end + 4 :]
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        return status, _chunked(rest, complete)
    if b"content-length" in headers:
        length = _number(headers[b"content-length"], 10, "Content-Length")
        if len(rest) < length:
            if complete:
                raise HttpError("bad response", f"closed after {len(rest)} of {length} bytes")
            raise Incomplete("")
        return status, rest[:length]
    if not complete:
        raise Incomplete("")
    return status, rest


def _status(line: bytes) -> int:
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise HttpError("bad response", f"status line {line[:40]!r}")
    code = _number(parts[1], 10, "status")
    if not 100 <= code <= 999:
        raise HttpError("bad response", f"status {code}")
    return code


def _number(text: bytes, base: int, what: str) -> int:
    """A non-negative number of at most 12 digits (larger than any response we read)."""
    digits = text.strip()
    ok = b"0123456789abcdefABCDEF" if base == 16 else b"0123456789"
    if not digits or any(c not in ok for c in digits):
        raise HttpError("bad response", f"{what} {text[:20]!r}")
    if len(digits.lstrip(b"0")) > 12:
        raise HttpError("too large", f"{what} {text[:20].decode()} is more than {MAX_RESPONSE}")
    value = int(digits, base)
    if value > MAX_RESPONSE:
        raise HttpError("too large", f"{what} {value} is more than {MAX_RESPONSE} bytes")
    return value


def _chunked(data: bytes, complete: bool) -> bytes:
    body, pos = b"", 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            break
        size = _number(data[pos:eol].split(b";", 1)[0], 16, "chunk size")
        start = eol + 2
        if size == 0:
            return body
        if len(data) < start + size + 2:
            break
        body += data[start : start + size]
        if len(body) > MAX_RESPONSE:
            raise HttpError("too large", f"more than {MAX_RESPONSE} bytes")
        pos = start + size + 2
    if complete:
        raise HttpError("bad response", "closed inside a chunked body")
    raise Incomplete("")
