"""Sphinx configuration of the manual: MyST Markdown pages, the furo theme.

The reference of the fixtures, ini options and markers is generated from the
plugin itself by the ``plugin-reference`` directive below, so that it cannot
drift from what ``pytest --fixtures``, ``--help`` and ``--markers`` show.
"""

from __future__ import annotations

import inspect
from importlib import metadata
from typing import TYPE_CHECKING, Any, ClassVar

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

from pytest_messagebus_eventstore import _deterministic, _given, _strict, plugin

if TYPE_CHECKING:
    from collections.abc import Callable

    from sphinx.application import Sphinx

project = "pytest-messagebus-eventstore"
author = "The pytest-messagebus-eventstore authors"
copyright = f"%Y, {author}"
release = metadata.version("pytest-messagebus-eventstore")

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = project
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "description"
nitpicky = False


class _IniRecorder:
    """Stands in for pytest's parser, to read the plugin's ini options."""

    def __init__(self) -> None:
        self.options: list[tuple[str, str, str, Any]] = []

    def addini(self, name: str, help: str, type: str | None = None, default: Any = None) -> None:
        self.options.append((name, type or "string", help, default))


def _fixtures() -> list[str]:
    lines = []
    for name, value in vars(plugin).items():
        marker = getattr(value, "_fixture_function_marker", None)
        if marker is None or name.startswith("_"):
            continue
        scope = marker.scope if isinstance(marker.scope, str) else "function"
        lines += [f".. py:function:: {name}", "   :no-index:", "", f"   *{scope} scope*", ""]
        doc = inspect.cleandoc(value.__doc__ or "")
        lines += [f"   {line}" for line in doc.splitlines()] + [""]
    return lines


def _ini_options() -> list[str]:
    recorder = _IniRecorder()
    plugin.pytest_addoption(recorder)  # type: ignore[arg-type]
    lines = []
    for name, kind, help, default in recorder.options:
        help = help.removeprefix("messagebus: ")
        lines += [
            f"``{name}`` (*{kind}*, default ``{default!r}``)",
            f"   {help[:1].upper()}{help[1:]}",
            "",
        ]
    return lines


def _markers() -> list[str]:
    lines = []
    for help in (_given.MARKER_HELP, _strict.MARKER_HELP, _deterministic.MARKER_HELP):
        signature, _, text = help.partition(": ")
        lines += [f"``@pytest.mark.{signature}``", f"   {text[:1].upper()}{text[1:]}", ""]
    return lines


class PluginReference(SphinxDirective):
    """``plugin-reference`` with one argument: fixtures, ini-options or markers.

    Its lines are reStructuredText: use it inside an ``eval-rst`` block.
    """

    required_arguments = 1
    _MAKERS: ClassVar[dict[str, Callable[[], list[str]]]] = {
        "fixtures": _fixtures,
        "ini-options": _ini_options,
        "markers": _markers,
    }

    def run(self) -> list[nodes.Node]:
        what = self.arguments[0]
        if what not in self._MAKERS:
            raise self.error(f"plugin-reference: {what!r} is none of {sorted(self._MAKERS)}")
        container = nodes.container()
        self.state.nested_parse(StringList(self._MAKERS[what]()), self.content_offset, container)
        return container.children


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("plugin-reference", PluginReference)
    return {"parallel_read_safe": True}
