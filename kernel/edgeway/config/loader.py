"""Loading the static configuration from a file, flags or ``EDGEWAY_*`` variables.

As in Traefik (``cmd/traefik/traefik.go``), the sources are mutually exclusive
and tried in order: a configuration file, then command-line flags, then
environment variables; the first that yields anything is used alone and the
others are ignored (reported in :attr:`LoadedStatic.ignored` so the CLI can say
so). The result goes through :func:`effective_configuration`.

Keys are matched case-insensitively against the model, as paerser does, in all
three sources. Flag and variable paths are resolved by walking the model, so a
typo is reported as an unknown key with its path, and the model's field types
decide how a text value is read (bare booleans, comma-separated lists, a bare
section enabling it with defaults).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from edgeway.config.static import (
    NOT_SUPPORTED,
    TRAEFIK_PROVIDER_KEYS,
    StaticConfiguration,
    build_static_model,
    effective_configuration,
)
from edgeway.registry import Registry

__all__ = [
    "CONFIG_FILE_NAMES",
    "DEFAULT_SEARCH_DIRS",
    "ENV_PREFIX",
    "RESERVED_ENV",
    "RESERVED_ENV_PREFIXES",
    "LoadedStatic",
    "StaticConfigError",
    "is_reserved_env",
    "load_static_configuration",
]

ENV_PREFIX = "EDGEWAY_"
#: Variables with the prefix that are not configuration (they steer edgeway itself).
RESERVED_ENV = frozenset({"EDGEWAY_DISABLE_PLUGINS", "EDGEWAY_CONFORMANCE_DIR"})
RESERVED_ENV_PREFIXES = ("EDGEWAY_TEST_",)

#: Looked for, in this order, in each search directory.
CONFIG_FILE_NAMES = ("edgeway.yml", "edgeway.yaml", "edgeway.toml")
#: Searched after the working directory.
DEFAULT_SEARCH_DIRS = ("/etc/edgeway",)

Source = Literal["file", "flags", "env", "defaults"]
_SOURCE_NAMES = {"flags": "command-line flags", "env": "environment variables"}


def is_reserved_env(name: str) -> bool:
    return name in RESERVED_ENV or name.startswith(RESERVED_ENV_PREFIXES)


class StaticConfigError(ValueError):
    """The static configuration is unusable; ``problems`` has one line per problem."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"invalid static configuration ({source}):\n{lines}")


@dataclass(frozen=True)
class LoadedStatic:
    configuration: StaticConfiguration
    source: Source
    #: The file read, when ``source`` is ``"file"``.
    file: Path | None = None
    #: Sources that had settings but were ignored because an earlier one won.
    ignored: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        if self.source == "file":
            return f"file {self.file}"
        if self.source == "defaults":
            return "defaults (no configuration file, flags or EDGEWAY_* variables)"
        return _SOURCE_NAMES[self.source]


def load_static_configuration(
    argv: Sequence[str],
    environ: Mapping[str, str],
    cwd: str | os.PathLike[str],
    registry: Registry | None = None,
    *,
    search_dirs: Sequence[str | os.PathLike[str]] | None = None,
) -> LoadedStatic:
    """Load, validate and complete the static configuration.

    ``argv`` holds only configuration flags (and ``--configFile``);
    ``search_dirs`` defaults to ``cwd`` then ``/etc/edgeway``. Raises
    :class:`StaticConfigError` listing every problem with its key path.
    """
    model = build_static_model(registry)
    cwd = Path(cwd)
    args = _parse_argv(argv, model)
    env_vars = sorted(
        (k, v) for k, v in environ.items() if k.startswith(ENV_PREFIX) and not is_reserved_env(k)
    )
    if args.problems:
        raise StaticConfigError("command-line flags", args.problems)

    path = _find_file(
        args.config_file, cwd, [cwd, *DEFAULT_SEARCH_DIRS] if search_dirs is None else search_dirs
    )
    if path is not None:
        data = _read_file(path)
        problems: list[str] = []
        tree = _normalize(data, model, [], "", problems)
        static = _validate(model, tree, f"file {path}", problems)
        ignored = tuple(
            _SOURCE_NAMES[name]
            for name, present in (("flags", args.flags), ("env", env_vars))
            if present
        )
        return LoadedStatic(effective_configuration(static), "file", path, ignored)

    if args.flags:
        tree, problems = _tree_from_flat(model, args.flags, accumulate_lists=True)
        static = _validate(model, tree, "command-line flags", problems)
        ignored = ("environment variables",) if env_vars else ()
        return LoadedStatic(effective_configuration(static), "flags", ignored=ignored)

    if env_vars:
        items, problems = _env_items(env_vars)
        tree, more = _tree_from_flat(model, items, accumulate_lists=False)
        static = _validate(model, tree, "environment variables", problems + more)
        return LoadedStatic(effective_configuration(static), "env")

    return LoadedStatic(effective_configuration(model()), "defaults")


# --- model shapes ----------------------------------------------------------------------

Shape = tuple[Literal["model", "dict", "list", "scalar"], Any]


def _shape(annotation: Any) -> Shape:
    """What kind of value a field holds: a section, a map, a list or a scalar."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _shape(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        options = [a for a in get_args(annotation) if a is not type(None)]
        return _shape(options[0]) if len(options) == 1 else ("scalar", annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "model", annotation
    if origin in (dict, Mapping) or annotation is dict:
        args = get_args(annotation)
        return "dict", args[1] if args else Any
    if origin in (list, tuple, set, frozenset, Sequence) or annotation in (list, tuple):
        args = get_args(annotation)
        return "list", args[0] if args else Any
    return "scalar", annotation


def _fields(model: type[BaseModel]) -> dict[str, tuple[str, Any]]:
    """Lower-cased key -> (key to validate with, annotation)."""
    out = {}
    for name, field in model.model_fields.items():
        key = field.alias or name  # ``global``, not the attribute name ``global_``
        out[key.lower()] = (key, field.annotation)
    return out


def _allows_extra(model: type[BaseModel]) -> bool:
    # Models that merely ignore extras would drop a typo silently: report it instead.
    return model.model_config.get("extra") == "allow"


def _unknown(pattern: str, key: str) -> str:
    """The message for a key the model lacks: not supported yet, or unknown."""
    if key.lower() in {k.lower() for k in NOT_SUPPORTED.get(pattern, ())}:
        hint = ""
        if pattern == "providers" and key.lower() in {k.lower() for k in TRAEFIK_PROVIDER_KEYS}:
            hint = " (no installed plugin provides this provider)"
        return f"not supported by this version of edgeway{hint}"
    return "unknown key"


def _join(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _child_pattern(pattern: str, key: str) -> str:
    return f"{pattern}.{key}" if pattern else key


# --- structured input (files) ----------------------------------------------------------


def _normalize(
    value: Any, annotation: Any, path: list[Any], pattern: str, problems: list[str]
) -> Any:
    """``value`` with keys spelled as the model spells them; unknown keys reported.

    ``None`` values are dropped, as paerser drops them: ``api:`` with nothing
    after it leaves the API disabled; ``api: {}`` or ``api: true`` enables it.
    """
    kind, arg = _shape(annotation)
    if kind == "model" and isinstance(value, Mapping):
        fields = _fields(arg)
        out: dict[str, Any] = {}
        spelled: dict[str, str] = {}
        for raw_key, item in value.items():
            key = str(raw_key)
            match = fields.get(key.lower())
            if match is None:
                if _allows_extra(arg):
                    out[key] = item
                else:
                    problems.append(f"{_join([*path, key])}: {_unknown(pattern, key)}")
                continue
            name, field_annotation = match
            if name in spelled:
                problems.append(
                    f"{_join([*path, key])}: given twice (as {spelled[name]!r} and {key!r}; keys are case-insensitive)"
                )
                continue
            spelled[name] = key
            item = _section_value(item, field_annotation)
            if item is not None:
                out[name] = _normalize(
                    item, field_annotation, [*path, name], _child_pattern(pattern, name), problems
                )
        return out
    if kind == "dict" and isinstance(value, Mapping):
        entries = ((str(k), _section_value(v, arg)) for k, v in value.items())
        return {
            k: _normalize(v, arg, [*path, k], _child_pattern(pattern, "*"), problems)
            for k, v in entries
            if v is not None
        }
    if kind == "list" and isinstance(value, list):
        return [_normalize(v, arg, [*path, i], pattern, problems) for i, v in enumerate(value)]
    return value


def _section_value(value: Any, annotation: Any) -> Any:
    """A section written as ``true`` is enabled with its defaults, ``false`` left out.

    paerser accepts this for sections in files as it does for flags (``api: true``).
    """
    if _shape(annotation)[0] in ("model", "dict") and (
        isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false"))
    ):
        return {} if str(value).lower() == "true" else None
    return value


def _validate(
    model: type[StaticConfiguration], tree: Any, source: str, problems: list[str]
) -> StaticConfiguration:
    """The validated model, or every problem: the reported ones plus pydantic's.

    Unknown keys were left out of ``tree``, so validating the rest still finds
    the other mistakes and one run reports them all.
    """
    try:
        static = model.model_validate(tree)
    except ValidationError as exc:
        raise StaticConfigError(source, [*problems, *map(_describe, exc.errors())]) from None
    if problems:
        raise StaticConfigError(source, problems)
    return static


def _describe(err: Any) -> str:
    msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
    return f"{_join(err['loc']) or '(top level)'}: {msg.removeprefix('Value error, ')}"


# --- files -----------------------------------------------------------------------------


def _find_file(
    explicit: str | None, cwd: Path, search_dirs: Sequence[str | os.PathLike[str]]
) -> Path | None:
    if explicit is not None:
        path = cwd / explicit
        if not path.is_file():
            # Traefik silently falls back to flags here; a typo'd path deserves better.
            raise StaticConfigError("command-line flags", [f"configFile: no such file: {path}"])
        return path.resolve()
    for directory in search_dirs:
        for name in CONFIG_FILE_NAMES:
            path = cwd / directory / name
            if path.is_file():
                return path.resolve()
    return None


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def _read_file(path: Path) -> Any:
    """The parsed document; syntax errors become ``file:line:column: problem``."""
    source = f"file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StaticConfigError(source, [f"{path}: cannot read: {exc}"]) from None
    ext = path.suffix.lower()
    try:
        if ext == ".toml":
            data = tomllib.loads(text)
        elif ext in (".yml", ".yaml"):
            data = yaml.safe_load(text)
        elif ext == ".json":
            data = json.loads(text)
        else:
            raise StaticConfigError(
                source, [f"{path}: unsupported extension (use .yml, .yaml or .toml)"]
            )
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_POSITION.search(msg)
        where = f"{path}:{m.group(1)}:{m.group(2)}" if m else str(path)
        raise StaticConfigError(source, [f"{where}: {_TOML_POSITION.sub('', msg)}"]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise StaticConfigError(source, [f"{where}: {exc.problem or exc.context}"]) from None
    except yaml.YAMLError as exc:
        raise StaticConfigError(source, [f"{path}: {exc}"]) from None
    except json.JSONDecodeError as exc:
        raise StaticConfigError(source, [f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}"]) from None
    if not data:
        # As Traefik: an empty file is a mistake, not "use the defaults".
        raise StaticConfigError(source, [f"{path}: no configuration found in file"])
    if not isinstance(data, dict):
        raise StaticConfigError(source, [f"{path}: the top level must be a mapping of keys"])
    if any(str(k).lower() == "configfile" for k in data):
        raise StaticConfigError(source, ["configFile: only accepted as the --configFile flag"])
    return data


# --- flat input (flags, environment) ---------------------------------------------------


@dataclass
class _Args:
    config_file: str | None
    #: (path segments, value or None for a bare flag, flag as written)
    flags: list[tuple[list[str], str | None, str]]
    problems: list[str]


def _parse_argv(argv: Sequence[str], model: type[BaseModel]) -> _Args:
    """Split ``--a.b=v``, ``--a.b v`` and bare ``--a.b`` flags, as paerser does.

    A flag without ``=`` takes the next argument as its value unless the model
    says it is a boolean or a section (or it is unknown, which is reported
    later): then it means ``true``. Syntax errors are reported here even when a
    configuration file will win, as Traefik parses flags before looking for one.
    """
    out = _Args(None, [], [])
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            if rest:
                out.problems.append(f"unexpected arguments after '--': {' '.join(rest)}")
            break
        if len(arg) < 2 or not arg.startswith("-"):
            out.problems.append(
                f"unexpected argument {arg!r} (flags look like --entryPoints.web.address=:80)"
            )
            continue
        name = arg[2:] if arg.startswith("--") else arg[1:]
        if not name or name[0] in "-=":
            out.problems.append(f"bad flag syntax: {arg}")
            continue
        name, eq, value = name.partition("=")
        if name.lower() == "configfile":
            if not eq:
                if not rest:
                    out.problems.append(f"flag needs a value: {arg}")
                    continue
                value = rest.pop(0)
            out.config_file = value
            continue
        segments = name.split(".")
        if not all(segments):
            out.problems.append(f"bad flag syntax: {arg}")
            continue
        if eq:
            out.flags.append((segments, value, arg))
        elif _takes_bare(model, segments):
            out.flags.append((segments, None, arg))
        elif rest:
            out.flags.append((segments, rest.pop(0), arg))
        else:
            out.problems.append(f"flag needs a value: {arg}")
    return out


def _env_items(
    env_vars: Iterable[tuple[str, str]],
) -> tuple[list[tuple[list[str], str | None, str]], list[str]]:
    """``EDGEWAY_A_B_C=v`` as ``(["a", "b", "c"], "v", name)`` items, and naming problems."""
    items: list[tuple[list[str], str | None, str]] = []
    problems: list[str] = []
    for name, value in env_vars:
        key = name[len(ENV_PREFIX) :].lower()
        if key == "configfile":
            problems.append(f"{name}: the configuration file can only be given as --configFile")
        elif not all(segments := key.split("_")):
            problems.append(f"{name}: empty key segment (doubled or trailing '_')")
        else:
            items.append((segments, value, name))
    return items, problems


def _takes_bare(model: type[BaseModel], segments: list[str]) -> bool:
    resolved = _resolve(model, segments)
    if isinstance(resolved, str):
        return True  # unknown: don't swallow the next flag; reported when flags are used
    kind, arg = _shape(resolved[1])
    return kind in ("model", "dict") or (kind == "scalar" and arg is bool)


def _resolve(model: type[BaseModel], segments: list[str]) -> tuple[list[str], Any] | str:
    """Canonical path and annotation for a flat key, or the problem with it."""
    annotation: Any = model
    path: list[str] = []
    pattern = ""
    for i, segment in enumerate(segments):
        kind, arg = _shape(annotation)
        if kind == "model":
            match = _fields(arg).get(segment.lower())
            if match is None:
                if _allows_extra(arg):
                    return [*path, *segments[i:]], Any
                return f"{_join([*path, segment])}: {_unknown(pattern, segment)}"
            name, annotation = match
            path.append(name)
            pattern = _child_pattern(pattern, name)
        elif kind == "dict":
            path.append(segment)
            pattern = _child_pattern(pattern, "*")
            annotation = arg
        else:
            return f"{_join([*path, segment])}: unknown key ({_join(path)} takes a value, not sub-keys)"
    return path, annotation


_DISABLE, _ENABLE = "false", "true"


def _tree_from_flat(
    model: type[BaseModel],
    items: Iterable[tuple[list[str], str | None, str]],
    *,
    accumulate_lists: bool,
) -> tuple[dict[str, Any], list[str]]:
    """Nested input for the model from ``(segments, text, origin)`` items.

    Later items win, except that a repeated list flag adds to the list as
    paerser does. A section given ``true`` (or nothing) is enabled with its
    defaults, ``false`` leaves it unset even if sub-keys are given.
    """
    tree: dict[str, Any] = {}
    toggles: dict[tuple[str, ...], str] = {}
    problems: list[str] = []
    for segments, text, origin in items:
        resolved = _resolve(model, segments)
        if isinstance(resolved, str):
            problems.append(f"{resolved} (from {origin})")
            continue
        path, annotation = resolved
        kind, _ = _shape(annotation)
        value = "true" if text is None else text
        if kind in ("model", "dict"):
            toggle = value.strip().lower() or _ENABLE
            if toggle not in (_ENABLE, _DISABLE):
                problems.append(
                    f"{_join(path)}: expected true or false to enable or disable the section (from {origin})"
                )
                continue
            toggles[tuple(path)] = toggle
            continue
        node = _ensure(tree, path[:-1])
        if kind == "list":
            values = [v.strip() for v in value.split(",") if v.strip()]
            previous = node.get(path[-1])
            node[path[-1]] = (
                previous + values if accumulate_lists and isinstance(previous, list) else values
            )
        else:
            node[path[-1]] = value
    for path_, toggle in toggles.items():
        if toggle == _ENABLE:
            _ensure(tree, list(path_))
    for path_, toggle in toggles.items():
        if toggle == _DISABLE:
            parent = _find(tree, path_[:-1])
            if parent is not None:
                parent.pop(path_[-1], None)
    return tree, problems


def _ensure(tree: dict[str, Any], path: Sequence[str]) -> dict[str, Any]:
    node = tree
    for key in path:
        node = node.setdefault(key, {})
    return node


def _find(tree: dict[str, Any], path: Sequence[str]) -> dict[str, Any] | None:
    node: Any = tree
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None
