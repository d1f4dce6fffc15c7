"""edgeway's own log (static ``log``): levels, common/json formats, file output and reopening."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from edgeway.config.static import Log
from edgeway.logs import reopen_log_file, setup_logging


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger("edgeway")
    saved = (root.handlers[:], root.level, root.propagate)
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:], root.level, root.propagate = saved


def test_json_lines_parse_with_zerolog_fields(tmp_path: Path) -> None:
    path = tmp_path / "edgeway.log"
    setup_logging(Log(level="INFO", format="json", filePath=str(path)))
    log = logging.getLogger("edgeway.test")
    log.info("hello %s", "world", extra={"entryPointName": "web"})
    log.debug("hidden")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    lines = [json.loads(ln) for ln in path.read_text().splitlines()]
    assert [d["level"] for d in lines] == ["info", "error"]
    assert list(lines[0]) == ["level", "entryPointName", "time", "message"]
    assert lines[0]["message"] == "hello world" and lines[0]["entryPointName"] == "web"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", lines[0]["time"])
    assert "RuntimeError: boom" in lines[1]["error"]


@pytest.mark.parametrize(
    ("level", "shown"),
    [
        ("TRACE", ["TRC", "DBG", "INF", "WRN", "ERR"]),
        ("debug", ["DBG", "INF", "WRN", "ERR"]),
        ("WARN", ["WRN", "ERR"]),
        ("ERROR", ["ERR"]),
        ("FATAL", []),
        ("PANIC", []),
    ],
)
def test_levels_and_common_format(tmp_path: Path, level: str, shown: list[str]) -> None:
    path = tmp_path / "edgeway.log"
    setup_logging(Log(level=level, filePath=str(path)))
    log = logging.getLogger("edgeway.test")
    for lv in (5, logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
        log.log(lv, "message %d", lv)
    lines = path.read_text().splitlines()
    assert [ln.split(" ")[1] for ln in lines] == shown
    for ln in lines:  # a file: no colours, as Traefik
        assert re.fullmatch(r"\S+ [A-Z]{3} message \d+", ln), ln


def test_common_to_stdout_colored_unless_no_color(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(Log(level="INFO"))
    logging.getLogger("edgeway.x").info("coloured", extra={"providerName": "file"})
    out = capsys.readouterr().out
    assert "\x1b[32mINF\x1b[0m coloured \x1b[36mproviderName=\x1b[0mfile" in out
    setup_logging(Log(level="INFO", noColor=True))
    logging.getLogger("edgeway.x").info("plain", extra={"providerName": "file"})
    out = capsys.readouterr().out
    assert re.fullmatch(r"\S+ INF plain providerName=file\n", out), out


def test_reopen_after_rename(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "edgeway.log"
    setup_logging(Log(level="INFO", format="json", filePath=str(path)))
    log = logging.getLogger("edgeway.test")
    log.info("before")
    path.rename(tmp_path / "old.log")
    reopen_log_file()
    log.info("after")
    assert json.loads(path.read_text())["message"] == "after"
    assert json.loads((tmp_path / "old.log").read_text())["message"] == "before"


def test_log_options_validate() -> None:
    assert Log(level="warn", format="JSON").level == "WARN"
    with pytest.raises(ValueError):
        Log(level="VERBOSE")
    with pytest.raises(ValueError):
        Log(format="logfmt")
