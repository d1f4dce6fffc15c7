"""The lines made straight from a request's facts (the default fields) are the
bytes of the general path (the fields dict, the field modes, then the format),
for every format, over many kinds of requests."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest
from edgeway import accesslog
from edgeway.accesslog import AccessLogger
from edgeway.config.static import AccessLog
from edgeway.http.message import Headers, Request


@dataclass
class FakeTLS:
    versioned: str | None
    suite: str | None

    def version(self) -> str | None:
        return self.versioned

    def cipher(self) -> tuple[str, str, int] | None:
        return None if self.suite is None else (self.suite, "TLSv1.3", 256)


ODD = ['/a"b', "/\\x", "/é", "/%20", "/\u2028", "", "/p?"]


def facts(rnd: random.Random) -> tuple[Any, ...]:
    headers = [(b"Host", b"h")]
    if rnd.random() < 0.5:
        headers.append((rnd.choice([b"X-Forwarded-For", b"x-forwarded-for"]), rnd.choice([b"1.2.3.4", b"", b'"q"'])))
    for name in (b"Referer", b"User-Agent", b"user-agent"):
        if rnd.random() < 0.4:
            headers.append((name, rnd.choice([b"ua", b"", b'a "b"', b"\xe9"])))
    ip = rnd.choice(["127.0.0.1", "::1", ""])
    req = Request(
        rnd.choice(["GET", "HEAD", "POST", ""]),
        rnd.choice(ODD),
        rnd.choice(["", "a=1", 'q="x"']),
        Headers(headers),
        authority=rnd.choice(["", "example.com", "example.com:8080", "[::1]:80", "a:b:c"]),
        http_version=rnd.choice(["1.0", "1.1", "2"]),
        client_ip=ip,
        client_port=rnd.randrange(65536),
        content_length=rnd.choice([None, 0, 17]),
        tls=rnd.choice([None, FakeTLS("TLSv1.3", "TLS_AES_128_GCM_SHA256"), FakeTLS(None, None)]),
    )
    if rnd.random() < 0.3:
        req.context["client_username"] = rnd.choice(["bob", ""])
    data: dict[str, Any] = {}
    if rnd.random() < 0.8:
        data["RouterName"] = rnd.choice(["app@file", 'we"ird'])
    if rnd.random() < 0.7:
        data.update(ServiceName="app@file", ServiceURL="http://127.0.0.1:1/é", ServiceAddr="127.0.0.1:1")
        data.update(OriginDuration=rnd.random() / 100, OriginStatus=rnd.choice([200, 502]))
        if rnd.random() < 0.8:
            data["OriginContentSize"] = rnd.choice([0, 12, 1000])
    if rnd.random() < 0.2:
        data["RetryAttempts"] = rnd.randrange(3)
    start = rnd.uniform(1e9, 2e9)
    t0 = rnd.uniform(0, 1e5)
    first = (req, rnd.choice(["web", 'e"p']), start, t0, req.raw_path, req.query, data)
    return first, rnd.choice([200, 404, 500, 0]), None, rnd.choice([0, 12, 500]), t0 + rnd.random() / 10


CONFIGS = [
    {"format": "json"},
    {"format": "common"},
    {"format": "genericCLF"},
    {"format": "common", "fields": {"headers": {"defaultMode": "keep"}}},
    {"format": "common", "fields": {"headers": {"names": {"referer": "redact", "User-Agent": "keep"}}}},
    {"format": "genericCLF", "fields": {"headers": {"defaultMode": "redact", "names": {"user-agent": "drop"}}}},
    {"format": "json", "filters": {"statusCodes": ["200-299"], "minDuration": "50ms"}},
    {"format": "common", "filters": {"retryAttempts": True}},
]


@pytest.mark.parametrize("options", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_fast_lines_are_the_general_lines(options: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accesslog, "_now", lambda: "2026-01-02T03:04:05+01:00")
    cfg = AccessLog.model_validate(options)
    fast, general = AccessLogger(cfg), AccessLogger(cfg)
    assert fast._make_line != fast._line  # (these configurations have a fast path)
    rnd = random.Random(str(options))
    for _ in range(3000):
        item = facts(rnd)
        assert fast._make_line(*item) == general._line(*item), item


def test_other_configurations_take_the_general_path() -> None:
    for options in (
        {"format": "json", "fields": {"headers": {"defaultMode": "keep"}}},
        {"format": "json", "fields": {"names": {"ClientHost": "drop"}}},
        {"format": "common", "fields": {"defaultMode": "drop"}},
    ):
        logger = AccessLogger(AccessLog.model_validate(options))
        assert logger._make_line == logger._line
