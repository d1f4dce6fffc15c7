"""Kubernetes label selectors (``labels.Parse`` syntax) evaluated on plain dicts.

``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x,y)``, ``a``, ``!a``,
``a>1``, ``a<1``, joined by commas; an empty selector matches everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["LabelSelector", "check_label_selector", "parse_label_selector"]

_KEY = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?)"
_VALUE = r"(?:(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?)"
_TERM = re.compile(
    rf"\s*(?:(?P<not>!)\s*(?P<nkey>{_KEY})"
    rf"|(?P<skey>{_KEY})\s*(?P<setop>in|notin)\s*\((?P<set>[^)]*)\)"
    rf"|(?P<key>{_KEY})\s*(?:(?P<op>==|=|!=|>|<)\s*(?P<value>{_VALUE}))?)\s*(?:,|$)"
)

Requirement = Callable[[Mapping[str, str]], bool]


@dataclass(frozen=True)
class LabelSelector:
    """A parsed selector; ``matches(labels)`` is what list calls filter with."""

    text: str
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(req(labels) for req in self.requirements)


def _number(text: str, selector: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(
            f"invalid label selector {selector!r}: {text!r} is not an integer"
        ) from None


def _requirement(m: re.Match[str], selector: str) -> Requirement:
    if m["not"]:
        key = m["nkey"]
        return lambda labels: key not in labels
    if m["setop"]:
        key = m["skey"]
        values = frozenset(v.strip() for v in m["set"].split(","))
        if m["setop"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    key, op, value = m["key"], m["op"], m["value"] or ""
    if op is None:
        return lambda labels: key in labels
    if op in ("=", "=="):
        return lambda labels: labels.get(key) == value
    if op == "!=":
        return lambda labels: labels.get(key) != value
    bound = _number(value, selector)

    def compare(labels: Mapping[str, str]) -> bool:
        try:
            have = int(labels.get(key, ""))
        except ValueError:
            return False
        return have > bound if op == ">" else have < bound

    return compare


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse ``text``; raises ``ValueError`` naming the selector when it is invalid."""
    selector = (text or "").strip()
    reqs: list[Requirement] = []
    pos = 0
    while pos < len(selector):
        m = _TERM.match(selector, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"invalid label selector {selector!r} at {selector[pos:]!r}")
        reqs.append(_requirement(m, selector))
        pos = m.end()
    return LabelSelector(selector, tuple(reqs))


def check_label_selector(text: str, what: str = "label selector") -> str:
    """``text`` when it parses, else ``ValueError("invalid <what>: 'text'")``.

    The providers' ``labelSelector`` option validator: ``newK8sClient`` refuses an
    invalid selector at start-up.
    """
    try:
        parse_label_selector(text)
    except ValueError:
        raise ValueError(f"invalid {what}: {text!r}") from None
    return text
