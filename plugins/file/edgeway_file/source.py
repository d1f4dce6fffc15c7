"""Read one configuration file into a mapping, keeping where each key is.

Syntax errors carry ``file:line:column``. A file with a Go template is refused
up front: Traefik renders every file with ``text/template`` (``CreateConfiguration``
in ``pkg/provider/file/file.go``), edgeway does not, and a clear refusal beats
the YAML parse error ``{{`` would otherwise cause.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from typing import Any

import yaml

from edgeway_file.errors import FileProviderError, Problem
from edgeway_file.lines import LineMap, json_lines, load_yaml, toml_lines

__all__ = ["SUPPORTED_EXTENSIONS", "Source", "is_supported", "read_source"]

#: Traefik reads .toml, .yaml and .yml (``isFileSupported``); edgeway adds .json.
SUPPORTED_EXTENSIONS = frozenset({".yml", ".yaml", ".toml", ".json"})

Path = tuple[str | int, ...]


def is_supported(filename: str) -> bool:
    return os.path.splitext(filename)[1].lower() in SUPPORTED_EXTENSIONS


@dataclass
class Source:
    """A parsed file: its data, and the line of each key for error messages."""

    file: str
    text: str
    data: dict[str, Any]
    lines: LineMap

    def problem(self, path: Path, message: str) -> Problem:
        return Problem(self.file, message, self.lines.line_of(path), path=tuple(path))

    def where(self, path: Path) -> str:
        line = self.lines.line_of(path)
        return f"{self.file}:{line}" if line is not None else self.file


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _template_problem(file: str, text: str) -> Problem | None:
    start = text.find("{{")
    if start < 0 or text.find("}}", start) < 0:
        return None
    line, column = _position(text, start)
    return Problem(
        file,
        "Go templates ({{ ... }}) are not supported by edgeway; render the template "
        "before handing the file to edgeway",
        line,
        column,
    )


_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def _parse(file: str, text: str) -> tuple[Any, LineMap, list[Problem]]:
    ext = os.path.splitext(file)[1].lower()
    if ext == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            msg = str(exc)
            m = _TOML_AT.search(msg)
            line, col = (int(m.group(1)), int(m.group(2))) if m else (None, None)
            msg = _TOML_AT.sub("", msg)
            raise FileProviderError([Problem(file, f"invalid TOML: {msg}", line, col)]) from None
        return data, toml_lines(text), []
    if ext == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FileProviderError(
                [Problem(file, f"invalid JSON: {exc.msg}", exc.lineno, exc.colno)]
            ) from None
        return data, json_lines(text), []
    try:
        data, lines, dups = load_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise FileProviderError([Problem(file, f"invalid YAML: {what}", line, col)]) from None
    except yaml.YAMLError as exc:
        raise FileProviderError([Problem(file, f"invalid YAML: {exc}")]) from None
    problems = [
        Problem(
            file,
            f"key {d.path[-1]!r} is already defined at line {d.first_line}",
            d.line,
            path=d.path,
        )
        for d in dups
    ]
    return data, lines, problems


def read_source(file: str) -> Source:
    """Read and parse ``file``; raises :class:`FileProviderError` saying where it is wrong."""
    try:
        with open(file, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise FileProviderError(
            [Problem(file, f"cannot read the file: {exc.strerror or exc}")]
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise FileProviderError([Problem(file, "the file is not UTF-8 text", line)]) from None
    template = _template_problem(file, text)
    if template:
        raise FileProviderError([template])
    data, lines, problems = _parse(file, text)
    if problems:
        raise FileProviderError(problems)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FileProviderError(
            [
                Problem(
                    file,
                    f"the document must be a mapping (http, tcp, udp, tls), not {type(data).__name__}",
                    lines.line or 1,
                )
            ]
        )
    return Source(file, text, data, lines)
