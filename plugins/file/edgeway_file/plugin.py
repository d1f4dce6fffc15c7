"""Registers the ``file`` provider type (``providers.file``, ``name@file``)."""

from __future__ import annotations

from collections.abc import Callable

from edgeway import hookimpl
from edgeway.registry import ProviderContext, ProviderType

from edgeway_file.options import FileProviderOptions
from edgeway_file.provider import FileProvider

__all__ = ["PROVIDER_TYPE", "register_providers"]


def _factory(options: FileProviderOptions, context: ProviderContext) -> FileProvider:
    return FileProvider(options, context)


PROVIDER_TYPE = ProviderType(
    name="file",
    config_key="file",
    options_model=FileProviderOptions,
    factory=_factory,
)


@hookimpl
def register_providers(register: Callable[[ProviderType], None]) -> None:
    register(PROVIDER_TYPE)
