"""Turn a file or a directory into one validated ``Configuration``.

Mirrors Traefik's ``buildConfiguration``/``collectFileConfigs``/``loadFileConfig``
(``pkg/provider/file/file.go``): a directory is read recursively in sorted
order, files with other extensions skipped, each file's PEM references inlined,
and the files merged with the skip-duplicates rule. Unlike Traefik, every problem
of every file is collected before giving up, each with its file and line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from edgeway.config.dynamic import ConfigError, Configuration, parse_configuration

from edgeway_file.errors import FileProviderError, Problem
from edgeway_file.inline import inline_file_references
from edgeway_file.merge import merge_sources
from edgeway_file.source import Source, is_supported, read_source

__all__ = ["list_files", "load_directory", "load_file", "validate"]

log = logging.getLogger("edgeway.provider.file")

Path = tuple[str | int, ...]


def validate(data: dict[str, Any], locate: Callable[[Path, str], Problem]) -> Configuration:
    """``parse_configuration(data)``, its errors placed in files by ``locate``."""
    try:
        return parse_configuration(data)
    except ConfigError as exc:
        errors = getattr(exc, "errors", None)
        if not errors:
            raise FileProviderError([locate((), str(exc))]) from None
        raise FileProviderError([locate(tuple(path), msg) for path, msg in errors]) from None


def _read(file: str, workdir: str, debug_template: bool) -> Source:
    source = read_source(file)
    if debug_template:
        log.debug(
            "%s (templates are not rendered, so this is also the generated configuration):\n%s",
            file,
            source.text,
        )
    inline_file_references(source.data, workdir, source.where, log)
    return source


def load_file(file: str, workdir: str = ".", debug_template: bool = False) -> Configuration:
    """The ``Configuration`` of one file (``providers.file.filename``)."""
    source = _read(file, workdir, debug_template)
    return validate(source.data, source.problem)


def list_files(directory: str) -> list[str]:
    """Supported files under ``directory``, depth first in sorted order, as Go's ``os.ReadDir``.

    Entries named ``..*`` are skipped: they are the private copies of a Kubernetes
    ConfigMap volume (``..data``, ``..2026_11_22_...``) whose files are also visible
    at the top level; Traefik reads them twice and warns about every object.
    """
    files: list[str] = []
    with os.scandir(directory) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        if entry.name.startswith(".."):
            continue
        if entry.is_dir(follow_symlinks=False):
            files.extend(list_files(entry.path))
        elif is_supported(entry.name):
            files.append(entry.path)
    return files


def load_directory(
    directory: str, workdir: str = ".", debug_template: bool = False
) -> Configuration:
    """The merged ``Configuration`` of every file in ``directory`` (``providers.file.directory``)."""
    try:
        files = list_files(directory)
    except OSError as exc:
        raise FileProviderError(
            [
                Problem(
                    exc.filename or directory, f"cannot read the directory: {exc.strerror or exc}"
                )
            ]
        ) from None
    sources: list[Source] = []
    problems: list[Problem] = []
    for file in files:
        try:
            source = _read(file, workdir, debug_template)
            validate(source.data, source.problem)
        except FileProviderError as exc:
            problems.extend(exc.problems)
            continue
        sources.append(source)
    if problems:
        raise FileProviderError(problems)
    merged, locate = merge_sources(sources, directory, log)
    return validate(merged, locate)
