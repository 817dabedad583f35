"""A single generic registry for every extension point (backends, modes, later tools and guards).

Built-ins register exactly like a third-party plugin would: by decorator, by a lazy "module:attr"
string (so importing ponder never imports llama.cpp), or through a Python entry point group.
An unknown name raises `UnknownPlugin`, which lists what is available.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from ponder.errors import UnknownPlugin

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self._group = entry_point_group
        self._items: dict[str, T | str] = {}
        self._entry_points_loaded = False

    def register(self, name: str, target: T | str | None = None) -> Callable[[T], T]:
        """`reg.register("x", obj)`, `reg.register("x", "pkg.mod:Obj")`, or `@reg.register("x")`."""

        if target is not None:
            self._items[name] = target

        def decorator(obj: T) -> T:
            self._items[name] = obj
            return obj

        return decorator

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded or self._group is None:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self._group):
            self._items.setdefault(ep.name, ep.value)

    def get(self, name: str) -> T:
        self._load_entry_points()
        try:
            item = self._items[name]
        except KeyError:
            raise UnknownPlugin(self.kind, name, self.names()) from None
        if isinstance(item, str):
            module, _, attr = item.partition(":")
            loaded: T = getattr(importlib.import_module(module), attr)
            self._items[name] = loaded
            return loaded
        return item

    def names(self) -> list[str]:
        self._load_entry_points()
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return name in self._items
