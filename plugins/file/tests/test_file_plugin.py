"""Options validation, and the plugin's discovery and registration."""

from __future__ import annotations

import importlib.metadata
import os

import pluggy
import pytest
from edgeway import PROJECT, hookspecs
from edgeway.registry import ProviderContext, Registry
from edgeway_file import FileProvider, FileProviderOptions
from pydantic import ValidationError


def test_entry_point_is_declared() -> None:
    eps = importlib.metadata.entry_points(group="edgeway")
    file_ep = next(ep for ep in eps if ep.name == "file")
    assert file_ep.value == "edgeway_file.plugin"
    assert hasattr(file_ep.load(), "register_providers")


def test_registers_the_file_provider_type() -> None:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.load_setuptools_entrypoints(PROJECT, name="file")
    registry = Registry()
    pm.hook.register_providers(register=registry.add_provider)
    ptype = registry.provider_by_key("file")
    assert ptype is not None and ptype.name == "file"
    assert ptype.options_model is FileProviderOptions
    provider = ptype.factory(
        FileProviderOptions(filename="dyn.yml"), ProviderContext(workdir="/etc/x")
    )
    assert isinstance(provider, FileProvider)
    assert provider.path == "/etc/x/dyn.yml"


def test_defaults() -> None:
    opts = FileProviderOptions.model_validate({"filename": "dyn.yml"})
    assert opts.watch is True
    assert opts.debugLogGeneratedTemplate is False


def test_filename_or_directory_required() -> None:
    with pytest.raises(ValidationError, match="filename or directory"):
        FileProviderOptions.model_validate({"watch": False})
    with pytest.raises(ValidationError, match="filename or directory"):
        FileProviderOptions.model_validate({"filename": "", "directory": ""})


def test_unknown_option_rejected() -> None:
    with pytest.raises(ValidationError, match="fileName|extra"):
        FileProviderOptions.model_validate({"filename": "a.yml", "fileName": "b.yml"})


def test_unsupported_extension_rejected() -> None:
    with pytest.raises(ValidationError, match="unsupported file extension"):
        FileProviderOptions.model_validate({"filename": "dyn.conf"})


def test_directory_wins_over_filename(tmp_path) -> None:
    # Traefik's Provide/buildConfiguration test Directory first; the filename is then unused.
    opts = FileProviderOptions.model_validate({"filename": "ignored.conf", "directory": "conf.d"})
    path, is_dir = opts.target(str(tmp_path))
    assert (path, is_dir) == (os.path.join(str(tmp_path), "conf.d"), True)


def test_relative_paths_resolve_against_workdir(tmp_path) -> None:
    provider = FileProvider(
        FileProviderOptions(filename="sub/dyn.yml"), ProviderContext(str(tmp_path))
    )
    assert provider.path == str(tmp_path / "sub" / "dyn.yml")
    absolute = FileProvider(
        FileProviderOptions(directory="/srv/conf"), ProviderContext(str(tmp_path))
    )
    assert absolute.path == "/srv/conf" and absolute.is_directory


def test_options_are_frozen() -> None:
    opts = FileProviderOptions(filename="a.yml")
    with pytest.raises(ValidationError):
        opts.watch = False  # type: ignore[misc]
