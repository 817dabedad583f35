"""CLI flags generated from the settings tree, so a new setting is a new flag with no extra code.

`Settings.engine.parallel` becomes `--engine-parallel`, `Settings.model` becomes `--model`; help
text comes from the field descriptions. Flags left unset do not override the file or environment.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ponder.config import Settings

F = Callable[..., Any]
SKIP = {"models"}  # lists of tables belong in the config file


def _click_type(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is Literal:
        return click.Choice([str(a) for a in get_args(annotation)])
    if annotation is Path:
        return click.Path(path_type=Path)
    return {int: int, float: float, bool: bool}.get(annotation, str)


def _leaves() -> list[tuple[tuple[str, ...], FieldInfo]]:
    out: list[tuple[tuple[str, ...], FieldInfo]] = []
    for name, info in Settings.model_fields.items():
        if name in SKIP:
            continue
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            # Tables (dicts, lists) belong in the config file or a JSON environment variable.
            out.extend(
                ((name, sub), sub_info)
                for sub, sub_info in ann.model_fields.items()
                if get_origin(sub_info.annotation) not in (dict, list)
            )
        else:
            out.append(((name,), info))
    return out


def _dest(path: tuple[str, ...]) -> str:
    return "setting__" + "__".join(path)


def settings_options(f: F) -> F:
    """Decorate a click command with one option per setting."""
    for path, info in reversed(_leaves()):
        flag = "--" + "-".join(p.replace("_", "-") for p in path)
        kind = _click_type(info.annotation)
        if kind is bool:
            opt = click.option(f"{flag}/--no-{flag[2:]}", _dest(path), default=None, help=info.description)
        else:
            opt = click.option(flag, _dest(path), type=kind, default=None, help=info.description)
        f = opt(f)
    return f


def settings_from_flags(kwargs: dict[str, Any]) -> Settings:
    """Pop the generated options out of a command's kwargs and build the settings with them on top."""
    overrides: dict[str, Any] = {}
    for key in [k for k in kwargs if k.startswith("setting__")]:
        value = kwargs.pop(key)
        if value is None:
            continue
        *parents, leaf = key.removeprefix("setting__").split("__")
        node = overrides
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return Settings(**overrides)
