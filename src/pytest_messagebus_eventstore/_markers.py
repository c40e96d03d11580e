"""Marker lookups cheap enough to make for every test, and the on/off markers and ini options.

The on/off markers (``messagebus_strict``, ``messagebus_deterministic``) take
no argument, ``True`` or ``False``, or ``enabled=``; their arguments are
checked at collection. Their ini options are booleans.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import pytest

if TYPE_CHECKING:
    from collections.abc import Collection

    from _pytest.nodes import Node

# What pytest reads as a boolean in an ini file.
_TRUE = ("y", "yes", "t", "true", "on", "1")
_FALSE = ("n", "no", "f", "false", "off", "0")


def marked_functions(
    items: list[pytest.Item], names: Collection[str]
) -> dict[str, list[pytest.Function]]:
    """For each marker name, the test functions that carry it, or whose class or module does.

    Run at collection, over every test: the nodes above a test are looked up
    once for all the tests they hold, and a test is looked at closely only for
    a marker that it or a node above it has. One pass serves every name.
    """
    found: dict[str, list[pytest.Function]] = {name: [] for name in names}
    # Test classes are abstract (pytest's nodes derive from ABC): an
    # isinstance check per test would cost more than the rest of the walk.
    is_function: dict[type, bool] = {}
    marked_above: dict[int, frozenset[str]] = {}
    for item in items:
        kind = type(item)
        function = is_function.get(kind)
        if function is None:
            function = is_function[kind] = issubclass(kind, pytest.Function)
        if not function:
            continue
        parent = item.parent
        candidates = marked_above.get(id(parent))
        if candidates is None:
            candidates = marked_above[id(parent)] = frozenset(
                name for name in names if parent is not None and name in parent.keywords
            )
        for mark in item.own_markers:
            if mark.name in found and mark.name not in candidates:
                candidates = candidates | {mark.name}
        for name in candidates:
            if item.get_closest_marker(name) is not None:
                found[name].append(item)  # type: ignore[arg-type]
    return found


def has_own_marker(item: pytest.Item, name: str) -> bool:
    """Whether ``item`` itself carries marker ``name`` (not its class or module)."""
    # A loop rather than any(): called for every test, and a generator costs a frame.
    for mark in item.own_markers:  # noqa: SIM110
        if mark.name == name:
            return True
    return False


def read_switch(config: pytest.Config, name: str) -> bool:
    """The value of the boolean ini option ``name``; a bad one is a usage error."""
    try:
        return bool(config.getini(name))
    except (ValueError, pytest.UsageError):  # pytest < 9 raises ValueError
        written = _written(config, name)
    # pytest 9 takes only TOML booleans in its [tool.pytest] table; an ini
    # file's words are accepted there too.
    word = str(written).strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise pytest.UsageError(
        f"ini option {name} = {written!r} is not a boolean; use true or false "
        "(also accepted: yes/no, on/off, 1/0)"
    )


def _written(config: pytest.Config, name: str) -> object:
    """The value of ini option ``name`` as the configuration gives it, to name it in an error."""
    # pytest has no public way to it: ConfigValue objects from pytest 9 on,
    # the file's strings and the -o overrides before.
    private = cast("Any", config)
    values = getattr(private, "_inicfg", None)
    if values is not None:
        return values[name].value
    override = private._get_override_ini_value(name)
    return private.inicfg[name] if override is None else override


def switch_value(mark: pytest.Mark) -> bool | None:
    """The value of an on/off marker; None unless its arguments are (), (bool,) or enabled=bool."""
    args, kwargs = mark.args, mark.kwargs
    if not kwargs:
        if not args:
            return True
        value = args[0] if len(args) == 1 else None
    else:
        value = kwargs["enabled"] if not args and list(kwargs) == ["enabled"] else None
    return value if type(value) is bool else None


def bad_switch(where: str, mark: pytest.Mark) -> str:
    """What is wrong with the on/off marker ``mark`` of node ``where``, and how to write it."""
    shown = ", ".join(
        [*map(repr, mark.args), *(f"{key}={value!r}" for key, value in mark.kwargs.items())]
    )
    return (
        f"In {where}: @pytest.mark.{mark.name}({shown}) is not valid; its signature is "
        f"{mark.name}(enabled=True), enabled True or False"
    )


def switches(
    config: pytest.Config,
    items: list[pytest.Item],
    marked: dict[str, list[pytest.Function]],
    names: Collection[str],
) -> dict[str, dict[int, bool]]:
    """For each on/off marker, its value on each test that carries it, by the test's id.

    A marker with bad arguments is a collection error, reported once for the
    test, class or module it is on; the tests under it are not run. By
    identity: hashing a node is a Python call, and the items and their
    markers live as long as the session.
    """
    values: dict[str, dict[int, bool]] = {}
    errors: dict[int, tuple[str, str]] = {}
    bad: set[int] = set()
    for name in names:
        found = values[name] = {}
        for item in marked[name]:
            closest: bool | None = None
            for node, mark in item.iter_markers_with_node(name):
                value = switch_value(mark)
                if value is None:
                    bad.add(id(item))
                    if id(mark) not in errors:
                        where = _place(node)
                        errors[id(mark)] = (where, bad_switch(where, mark))
                elif closest is None:
                    closest = value
            if closest is not None:
                found[id(item)] = closest
    if bad:
        for where, message in errors.values():
            # A failed collect report, as a module that fails to import gives:
            # the session stops before any test runs, unless
            # --continue-on-collection-errors, and then without these tests.
            config.hook.pytest_collectreport(
                report=pytest.CollectReport(where, "failed", message, [])
            )
        items[:] = [item for item in items if id(item) not in bad]
    return values


def _place(node: Node) -> str:
    """The node id of ``node``, a test function without its parameters."""
    if isinstance(node, pytest.Function) and node.name != node.originalname:
        return node.nodeid[: -len(node.name)] + node.originalname
    return node.nodeid
