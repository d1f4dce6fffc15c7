"""``providers.file`` options, with Traefik's names and rules."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, model_validator

from edgeway_file.source import SUPPORTED_EXTENSIONS, is_supported

__all__ = ["FileProviderOptions"]


class FileProviderOptions(BaseModel):
    """Where the dynamic configuration is read from.

    As in Traefik (``Provide`` in ``pkg/provider/file/file.go``) one of
    ``filename``/``directory`` is required and ``directory`` wins when both are
    set; ``watch`` defaults to true. ``debugLogGeneratedTemplate`` is accepted so a
    Traefik configuration loads unchanged; since edgeway renders no template it
    logs each file as read, at debug level.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    filename: str | None = None
    directory: str | None = None
    watch: bool = True
    debugLogGeneratedTemplate: bool = False

    @model_validator(mode="after")
    def _check_target(self) -> FileProviderOptions:
        if not self.directory and not self.filename:
            raise ValueError("set either filename or directory")
        if not self.directory and self.filename and not is_supported(self.filename):
            ext = os.path.splitext(self.filename)[1] or "no extension"
            allowed = ", ".join(sorted(SUPPORTED_EXTENSIONS))
            raise ValueError(
                f"unsupported file extension for {self.filename} ({ext}): use {allowed}"
            )
        return self

    def target(self, workdir: str = ".") -> tuple[str, bool]:
        """``(absolute path, is_directory)``: relative paths are resolved against ``workdir``."""
        path = self.directory or self.filename or ""
        return os.path.abspath(os.path.join(workdir, path)), bool(self.directory)
