"""Errors that say where the bad input is: file, line, column and key path.

Key paths are written as the kernel writes them (``http.routers["my.app"].rule``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from edgeway.config.dynamic import format_path

__all__ = ["FileProviderError", "Problem", "format_path"]

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file, printed like a compiler error."""

    file: str
    message: str
    line: int | None = None
    column: int | None = None
    path: Path = ()

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        if self.path:
            return f"{where}: {format_path(self.path)}: {self.message}"
        return f"{where}: {self.message}"


class FileProviderError(ValueError):
    """The files cannot be turned into a configuration; ``problems`` lists every reason."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
