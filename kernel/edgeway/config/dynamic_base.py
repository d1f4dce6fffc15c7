"""Shared building blocks of the dynamic-configuration models.

Traefik decodes a file-provider file with paerser, not with ``encoding/json``,
and paerser is more forgiving than a strict schema. :class:`TraefikModel`
copies the parts of that leniency a user's existing file may rely on, so that
a file Traefik accepts is accepted here too:

* field names match case-insensitively (``entrypoints`` fills ``entryPoints``);
* a ``null`` value is skipped, as if the key were absent (so defaults stay);
* numbers are accepted where a string is expected (``port: 443``);
* a scalar is accepted where a list of strings is expected (split on commas);
* keys of fields Traefik reserves for its own providers (``file:"-"``) are
  dropped rather than rejected, exactly as paerser disables them.

Everything else unknown is an error ("unknown key").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

__all__ = ["AllowEmpty", "StrList", "TraefikModel"]


class TraefikModel(BaseModel):
    """Base of every dynamic-configuration model: immutable, strict about keys."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        coerce_numbers_to_str=True,
    )

    #: Lower-cased keys Traefik knows but keeps for its own providers; ignored on input.
    _internal_keys: ClassVar[frozenset[str]] = frozenset()
    #: Lower-cased key -> field key, built once per class.
    _keymap: ClassVar[dict[str, str]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._keymap = {
            (field.alias or name).lower(): field.alias or name
            for name, field in cls.model_fields.items()
        }

    @model_validator(mode="before")
    @classmethod
    def _traefik_keys(cls, data: Any) -> Any:
        """Normalise keys and drop nulls the way paerser does before filling a struct."""
        if not isinstance(data, Mapping):
            return data
        out: dict[Any, Any] = {}
        for key, value in data.items():
            if value is None:
                continue
            if isinstance(key, str):
                lower = key.lower()
                if lower in cls._internal_keys and lower not in cls._keymap:
                    continue
                key = cls._keymap.get(lower, key)
            out[key] = value
        return out

    def _set_fields(self, names: tuple[str, ...]) -> list[str]:
        return [name for name in names if getattr(self, name) is not None]


def _as_list(value: Any) -> Any:
    """paerser splits a lone scalar on commas and trims every element of a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")]
    if isinstance(value, int | float | bool):
        return [value]
    if isinstance(value, list):
        return [item.strip() if isinstance(item, str) else item for item in value]
    return value


def _allow_empty(value: Any) -> Any:
    """``allowEmpty`` sections: ``true`` (or "") enables with defaults, other scalars disable."""
    if isinstance(value, str | int | float | bool):
        text = str(value).lower()
        return {} if text in ("", "true") else None
    return value


#: A list of strings that also accepts a single scalar.
StrList = Annotated[list[str], BeforeValidator(_as_list)]

#: Marker for Traefik's ``allowEmpty`` sections: ``tls: true`` / ``tls: {}``.
AllowEmpty = BeforeValidator(_allow_empty)
