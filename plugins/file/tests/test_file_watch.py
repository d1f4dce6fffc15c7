"""Watching: edits, atomic renames, ConfigMap swaps, bad edits, and prompt cancellation."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from edgeway.registry import ProviderContext
from edgeway_file import FileProvider, FileProviderError, FileProviderOptions
from file_helpers import Emits, wait_until, write, write_atomic
from watchfiles import Change

pytestmark = pytest.mark.anyio


def router(rule: str, name: str = "app") -> str:
    return f"http:\n  routers:\n    {name}:\n      rule: {rule}\n      service: svc\n"


def make(tmp_path: Path, **options: object) -> FileProvider:
    opts = FileProviderOptions.model_validate(options)
    p = FileProvider(opts, ProviderContext(workdir=str(tmp_path)))
    p.retry_interval = 0.05
    return p


@asynccontextmanager
async def running(provider: FileProvider) -> AsyncIterator[Emits]:
    emits = Emits()
    async with anyio.create_task_group() as tg:
        tg.start_soon(provider.run, emits)
        yield emits
        tg.cancel_scope.cancel()


def rule_of(config: object, name: str = "app") -> str:
    return config.http.routers[name].rule  # type: ignore[attr-defined]


async def test_in_place_edit_is_emitted(tmp_path: Path) -> None:
    path = write(tmp_path / "dyn.yml", router("Path(`/v1`)"))
    async with running(make(tmp_path, filename="dyn.yml")) as emits:
        assert rule_of(await emits.wait(1)) == "Path(`/v1`)"
        path.write_text(router("Path(`/v2`)"))
        assert rule_of(await emits.wait(2)) == "Path(`/v2`)"


async def test_atomic_rename_is_emitted(tmp_path: Path) -> None:
    path = write(tmp_path / "dyn.yml", router("Path(`/v1`)"))
    async with running(make(tmp_path, filename="dyn.yml")) as emits:
        await emits.wait(1)
        write_atomic(path, router("Path(`/v2`)"))
        assert rule_of(await emits.wait(2)) == "Path(`/v2`)"
        write_atomic(path, router("Path(`/v3`)"))
        assert rule_of(await emits.wait(3)) == "Path(`/v3`)"


def configmap_volume(root: Path, version: str, text: str) -> None:
    """Lay out a volume as kubelet's AtomicWriter does, or swap it to a new version."""
    write(root / version / "app.yml", text)
    tmp = root / "..data_tmp"
    tmp.symlink_to(version)
    os.replace(tmp, root / "..data")
    if not (root / "app.yml").is_symlink():
        (root / "app.yml").symlink_to("..data/app.yml")


async def test_configmap_symlink_swap_is_emitted(tmp_path: Path) -> None:
    volume = tmp_path / "config"
    configmap_volume(volume, "..2026_11_22_v1", router("Path(`/v1`)"))
    async with running(make(tmp_path, filename="config/app.yml")) as emits:
        assert rule_of(await emits.wait(1)) == "Path(`/v1`)"
        configmap_volume(volume, "..2026_11_22_v2", router("Path(`/v2`)"))
        assert rule_of(await emits.wait(2)) == "Path(`/v2`)"
        configmap_volume(volume, "..2026_11_22_v3", router("Path(`/v3`)"))
        assert rule_of(await emits.wait(3)) == "Path(`/v3`)"


async def test_configmap_swap_in_a_watched_directory(tmp_path: Path) -> None:
    volume = tmp_path / "config"
    configmap_volume(volume, "..2026_11_22_v1", router("Path(`/v1`)"))
    async with running(make(tmp_path, directory="config")) as emits:
        assert rule_of(await emits.wait(1)) == "Path(`/v1`)"
        configmap_volume(volume, "..2026_11_22_v2", router("Path(`/v2`)"))
        assert rule_of(await emits.wait(2)) == "Path(`/v2`)"


async def test_directory_changes_in_subdirectories_are_emitted(tmp_path: Path) -> None:
    write(tmp_path / "conf" / "a.yml", router("Path(`/a`)", "a"))
    async with running(make(tmp_path, directory="conf")) as emits:
        assert set((await emits.wait(1)).http.routers) == {"a"}
        write(
            tmp_path / "conf" / "sub" / "b.toml",
            '[http.routers.b]\nrule = "Path(`/b`)"\nservice = "svc"\n',
        )
        await wait_until(lambda: emits.configs[-1].http.routers.keys() == {"a", "b"})
        (tmp_path / "conf" / "a.yml").unlink()
        await wait_until(lambda: emits.configs[-1].http.routers.keys() == {"b"})


async def test_invalid_edit_keeps_the_last_good_configuration(tmp_path: Path, caplog) -> None:
    path = write(tmp_path / "dyn.yml", router("Path(`/v1`)"))
    provider = make(tmp_path, filename="dyn.yml")
    with caplog.at_level(logging.ERROR, logger="edgeway.provider.file"):
        async with running(provider) as emits:
            await emits.wait(1)
            assert provider.last_error is None
            path.write_text(router("Path(`/v2`)") + "      rul: typo\n")
            await wait_until(lambda: provider.last_error is not None)
            assert provider.last_error == f"{path}:6: http.routers.app.rul: unknown key"
            [record] = [r for r in caplog.records if r.name == "edgeway.provider.file"]
            assert record.levelno == logging.ERROR
            assert "keeping the last good configuration" in record.getMessage()
            assert f"{path}:6: http.routers.app.rul: unknown key" in record.getMessage()
            assert len(emits.configs) == 1
            path.write_text(router("Path(`/v3`)"))
            assert rule_of(await emits.wait(2)) == "Path(`/v3`)"
            assert provider.last_error is None


async def test_first_load_failing_is_logged_and_watching_goes_on(tmp_path: Path, caplog) -> None:
    path = write(tmp_path / "dyn.yml", "http: [\n")
    provider = make(tmp_path, filename="dyn.yml")
    with caplog.at_level(logging.ERROR, logger="edgeway.provider.file"):
        async with running(provider) as emits:
            await wait_until(lambda: provider.last_error is not None)
            assert provider.last_error.startswith(f"{path}:2:")
            assert any("still watching" in r.getMessage() for r in caplog.records)
            write_atomic(path, router("Path(`/fixed`)"))
            assert rule_of(await emits.wait(1)) == "Path(`/fixed`)"


async def test_file_created_after_start_is_loaded(tmp_path: Path) -> None:
    provider = make(tmp_path, filename="dyn.yml")
    async with running(provider) as emits:
        await wait_until(lambda: provider.last_error is not None)
        write(tmp_path / "dyn.yml", router("Path(`/late`)"))
        assert rule_of(await emits.wait(1)) == "Path(`/late`)"


async def test_missing_directory_is_watched_once_it_exists(tmp_path: Path, caplog) -> None:
    provider = make(tmp_path, directory="conf")
    with caplog.at_level(logging.WARNING, logger="edgeway.provider.file"):
        async with running(provider) as emits:
            await wait_until(
                lambda: any("does not exist" in r.getMessage() for r in caplog.records)
            )
            write(tmp_path / "conf" / "a.yml", router("Path(`/a`)"))
            assert rule_of(await emits.wait(1)) == "Path(`/a`)"


async def test_cancellation_stops_the_watcher_promptly(tmp_path: Path) -> None:
    write(tmp_path / "dyn.yml", router("Path(`/v1`)"))
    emits = Emits()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(make(tmp_path, filename="dyn.yml").run, emits)
            await emits.wait(1)
            started = time.monotonic()
            tg.cancel_scope.cancel()
        # leaving the task group waited for run() to finish
    assert time.monotonic() - started < 1  # awatch's own timeout would take 5 s


async def test_without_watch_run_emits_once_and_returns(tmp_path: Path) -> None:
    write(tmp_path / "dyn.yml", router("Path(`/v1`)"))
    emits = Emits()
    with anyio.fail_after(10):
        await make(tmp_path, filename="dyn.yml", watch=False).run(emits)
    assert [rule_of(c) for c in emits.configs] == ["Path(`/v1`)"]


async def test_without_watch_a_bad_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "dyn.yml", "http: [\n")
    with pytest.raises(FileProviderError, match=r"dyn\.yml:2:"):
        await make(tmp_path, filename="dyn.yml", watch=False).run(Emits())


def test_relevant_changes(tmp_path: Path) -> None:
    file_mode = make(tmp_path, filename="dyn.yml")
    assert file_mode._relevant(Change.modified, str(tmp_path / "dyn.yml"))
    assert file_mode._relevant(Change.added, str(tmp_path / "..data"))
    assert not file_mode._relevant(Change.modified, str(tmp_path / "other.yml"))
    assert not file_mode._relevant(Change.added, str(tmp_path / ".dyn.yml.swp"))
    dir_mode = make(tmp_path, directory=".")
    assert dir_mode._relevant(Change.modified, str(tmp_path / "sub" / "x.toml"))
    assert dir_mode._relevant(Change.deleted, str(tmp_path / "gone"))
    assert not dir_mode._relevant(Change.modified, str(tmp_path / "notes.txt"))
