"""``Set-Cookie`` lines read and written back as Go's net/http does.

forwardAuth's ``addAuthCookiesToResponse`` rebuilds the backend's cookies with
``Cookie.String()``: a line Go cannot parse is dropped, attributes it does not
know are lost, the rest comes out in Go's canonical spelling. Users see that,
so it is reproduced here (``ParseSetCookie`` and ``Cookie.String`` of Go 1.26).
"""

from __future__ import annotations

import calendar
import ipaddress
import re
import time
from dataclasses import dataclass

__all__ = ["Cookie", "parse_set_cookie"]

_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_OWS = " \t\r\n"
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_MONTH_NAMES = tuple(_MONTHS)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EXPIRES = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d)([ -])(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\3"
    r"(\d{4}) (\d{1,2}):(\d\d):(\d\d) ([A-Z]{3,5})"
)
_INT = re.compile(r"[+-]?\d+")


def _valid_name(name: str) -> bool:
    return bool(name) and all(ord(c) < 128 and ord(c) in _TOKEN for c in name)


def _valid_value_char(c: str) -> bool:
    return 0x20 <= ord(c) < 0x7F and c not in '";\\'


def _parse_value(raw: str, allow_quotes: bool) -> tuple[str, bool] | None:
    quoted = False
    if allow_quotes and len(raw) > 1 and raw[0] == '"' and raw[-1] == '"':
        raw, quoted = raw[1:-1], True
    if not all(_valid_value_char(c) for c in raw):
        return None
    return raw, quoted


@dataclass
class Cookie:
    name: str
    value: str
    quoted: bool = False
    path: str = ""
    domain: str = ""
    #: Seconds since the epoch, None when absent or unparsable.
    expires: int | None = None
    max_age: int = 0
    secure: bool = False
    http_only: bool = False
    same_site: str = ""
    partitioned: bool = False

    def __str__(self) -> str:
        """``Cookie.String()``: the ``Set-Cookie`` value Go writes for this cookie."""
        if not _valid_name(self.name):
            return ""
        value = "".join(c for c in self.value if _valid_value_char(c))
        if value and (self.quoted or " " in value or "," in value):
            value = f'"{value}"'
        out = [f"{self.name}={value}"]
        if self.path:
            out.append("; Path=" + "".join(c for c in self.path if 0x20 <= ord(c) < 0x7F and c != ";"))
        if self.domain and _valid_domain(self.domain):
            out.append("; Domain=" + self.domain.removeprefix("."))
        if self.expires is not None and self.expires >= _YEAR_1601:
            out.append("; Expires=" + _http_date(self.expires))
        if self.max_age > 0:
            out.append(f"; Max-Age={self.max_age}")
        elif self.max_age < 0:
            out.append("; Max-Age=0")
        if self.http_only:
            out.append("; HttpOnly")
        if self.secure:
            out.append("; Secure")
        if self.same_site:
            out.append(f"; SameSite={self.same_site}")
        if self.partitioned:
            out.append("; Partitioned")
        return "".join(out)


_YEAR_1601 = calendar.timegm((1601, 1, 1, 0, 0, 0))


def _http_date(ts: int) -> str:
    t = time.gmtime(ts)
    return f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTH_NAMES[t.tm_mon - 1]} {t.tm_year:04d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"


def _parse_expires(value: str) -> int | None:
    m = _EXPIRES.fullmatch(value)
    if m is None:
        return None
    day, month, year, hour, minute, sec = int(m[2]), _MONTHS[m[4]], int(m[5]), int(m[6]), int(m[7]), int(m[8])
    if not (1 <= day <= 31 and hour < 24 and minute < 60 and sec < 60):
        return None
    if day > calendar.monthrange(year, month)[1]:
        return None
    return calendar.timegm((year, month, day, hour, minute, sec))


def _valid_domain(v: str) -> bool:
    """``validCookieDomain``: a domain name, or an IPv4 address."""
    if ":" not in v:
        try:
            ipaddress.ip_address(v)
            return True
        except ValueError:
            pass
    if not v or len(v) > 255:
        return False
    s = v[1:] if v[0] == "." else v
    last, ok, part = ".", False, 0
    for c in s:
        if c.isascii() and c.isalpha():
            ok, part = True, part + 1
        elif c.isascii() and c.isdigit():
            part += 1
        elif c == "-":
            if last == ".":
                return False
            part += 1
        elif c == ".":
            if last in ".-" or part > 63 or part == 0:
                return False
            part = 0
        else:
            return False
        last = c
    return last != "-" and part <= 63 and ok


def parse_set_cookie(line: str) -> Cookie | None:
    """``http.ParseSetCookie``; None where Go returns an error."""
    parts = line.strip(_OWS).split(";")
    if len(parts) == 1 and parts[0] == "":
        return None
    name, eq, raw_value = parts[0].strip(_OWS).partition("=")
    name = name.strip(_OWS)
    if not eq or not _valid_name(name):
        return None
    parsed = _parse_value(raw_value, True)
    if parsed is None:
        return None
    c = Cookie(name, parsed[0], parsed[1])
    for part in parts[1:]:
        part = part.strip(_OWS)
        if not part:
            continue
        attr, _, raw = part.partition("=")
        if not attr.isascii():
            continue
        attr = attr.lower()
        got = _parse_value(raw, False)
        if got is None:
            continue
        val = got[0]
        if attr == "samesite":
            low = val.lower() if val.isascii() else ""
            c.same_site = {"lax": "Lax", "strict": "Strict", "none": "None"}.get(low, "")
        elif attr == "secure":
            c.secure = True
        elif attr == "httponly":
            c.http_only = True
        elif attr == "domain":
            c.domain = val
        elif attr == "max-age":
            if _INT.fullmatch(val) and not (val[0] == "0" and int(val) != 0) and abs(int(val)) < 2**63:
                secs = int(val)
                c.max_age = secs if secs > 0 else -1
        elif attr == "expires":
            c.expires = _parse_expires(val)
        elif attr == "path":
            c.path = val
        elif attr == "partitioned":
            c.partitioned = True
    return c
