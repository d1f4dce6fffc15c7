"""edgeway's file provider: dynamic configuration from YAML, TOML or JSON files.

Configured as Traefik's ``providers.file`` (``filename`` or ``directory``,
``watch``); objects are referenced as ``name@file``.
"""

from edgeway_file.errors import FileProviderError, Problem
from edgeway_file.options import FileProviderOptions
from edgeway_file.provider import FileProvider

__all__ = ["FileProvider", "FileProviderError", "FileProviderOptions", "Problem"]
