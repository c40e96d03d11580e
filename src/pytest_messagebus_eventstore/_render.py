"""Failure text of ``assert_messages`` and of ``==`` between messages.

The first line is a summary, as in pytest's own explanations; the lines after
it name each differing position and field, then what was missing or not
expected. How much is shown grows with ``-v`` and ``-vv``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._compare import Expectation, Observed

# Set from pytest's configuration (-v/-q) by the plugin, for assert_messages,
# which has no access to it.
_verbosity: list[int] = [0]


def set_verbosity(level: int) -> None:
    _verbosity.append(level)


def restore_verbosity() -> None:
    if len(_verbosity) > 1:
        _verbosity.pop()


def current_verbosity() -> int:
    return _verbosity[-1]


# Plain classes rather than dataclasses: the plugin imports this module at
# start-up, and building a dataclass costs more than everything else it does.
class Limits:
    """How much a failure shows: differing positions, list entries, context, value width."""

    __slots__ = ("blocks", "context", "items", "value_width")

    def __init__(self, *, blocks: int, items: int, context: int, value_width: int | None) -> None:
        self.blocks = blocks
        self.items = items
        self.context = context
        self.value_width = value_width

    @classmethod
    def for_verbosity(cls, verbosity: int) -> Limits:
        if verbosity <= 0:
            return cls(blocks=3, items=10, context=1, value_width=80)
        if verbosity == 1:
            return cls(blocks=30, items=100, context=3, value_width=400)
        return cls(blocks=1 << 30, items=1 << 30, context=1 << 30, value_width=None)


class Labels:
    """The words of a failure: assert_messages's, or those of ``left == right``."""

    __slots__ = ("actual", "expected", "missing", "operator", "unexpected")

    def __init__(
        self,
        *,
        expected: str = "expected",
        actual: str = "recorded",
        # How a difference reads: "expected 'a', recorded 'b'" or "'b' != 'a'".
        operator: bool = False,
        missing: str = "The following {noun}s were expected but not recorded:",
        unexpected: str = "The following {noun}s were recorded but not expected:",
    ) -> None:
        self.expected = expected
        self.actual = actual
        self.operator = operator
        self.missing = missing
        self.unexpected = unexpected

    def pair(self, expected: str, actual: str) -> str:
        if self.operator:
            return f"{actual} != {expected}"
        return f"{self.expected} {expected}, {self.actual} {actual}"


class Text(str):
    """A value shown as it is, without quotes."""

    def __repr__(self) -> str:
        return str(self)


MISSING = Text("(absent)")


def show(value: Any, limits: Limits) -> str:
    text = repr(value)
    width = limits.value_width
    if width is not None and len(text) > width:
        # Keep both ends: a long id or title usually differs at one of them.
        text = text[: width - 12] + "..." + text[-9:]
    return text


def describe(label: str, fields: dict[str, Any], limits: Limits) -> str:
    # metadata is the same for every message of a class: it would only add noise.
    shown = ", ".join(f"{k}={show(v, limits)}" for k, v in fields.items() if k != "metadata")
    return f"{label}({shown})"


def field_diffs(expected: Any, actual: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted field, expected value, actual value) for every leaf that differs."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        diffs: list[tuple[str, Any, Any]] = []
        for key in [*expected, *(k for k in actual if k not in expected)]:
            left = expected.get(key, MISSING)
            right = actual.get(key, MISSING)
            if left is MISSING or right is MISSING or left != right:
                diffs.extend(field_diffs(left, right, f"{path}{key}."))
        return diffs
    return [(path.rstrip("."), expected, actual)]


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def difference_block(
    header: str, diffs: list[tuple[str, Any, Any]], labels: Labels, limits: Limits
) -> list[str]:
    structural: list[tuple[str, Any, Any]] = []
    fields: list[tuple[str, Any, Any]] = []
    for diff in diffs:
        is_structural = isinstance(diff[1], Text) and diff[0] in ("class", "type")
        (structural if is_structural else fields).append(diff)
    if structural:
        lines = [f"{header}, the {structural[0][0]} differs:"]
    else:
        verb = "differs" if len(fields) == 1 else "differ"
        lines = [f"{header}, {_count(len(fields), 'field')} {verb}:"]
    for name, expected, actual in [*structural, *fields]:
        lines.append(f"  {name}: {labels.pair(show(expected, limits), show(actual, limits))}")
    return lines


def _listing(title: str, entries: list[str], limits: Limits) -> list[str]:
    lines = [title]
    lines.extend(f"  {entry}" for entry in entries[: limits.items])
    hidden = len(entries) - limits.items
    if hidden > 0:
        lines.append(f"  ... and {hidden} more (use -vv to see all)")
    return lines


def _context(
    observed: Sequence[Observed], marks: dict[int, str], labels: Labels, limits: Limits, noun: str
) -> list[str]:
    """The recorded sequence, runs of equal messages far from a difference collapsed."""
    # Clamped before iterating: at -vv the context is unbounded.
    shown = sorted(
        {
            j
            for mark in marks
            for j in range(
                max(0, mark - limits.context), min(len(observed), mark + limits.context + 1)
            )
        }
    )
    lines = [f"{labels.actual.capitalize()} {noun}s:"]
    previous = -1
    for j in shown:
        if j - previous > 1:
            lines.append(f"  ... {_count(j - previous - 1, f'equal {noun}')} ...")
        suffix = f"  <- {marks[j]}" if j in marks else ""
        lines.append(f"  [{j}] {observed[j].describe(limits)}{suffix}")
        previous = j
    if len(observed) - 1 > previous:
        lines.append(f"  ... {_count(len(observed) - 1 - previous, f'equal {noun}')} ...")
    return lines


def explain(
    expected: Sequence[Expectation],
    observed: Sequence[Observed],
    *,
    ordered: bool,
    labels: Labels,
    verbosity: int,
    noun: str = "message",
) -> tuple[list[str] | None, list[int | None]]:
    """The failure lines (None when it matches) and which observation each expectation took."""
    from ._compare import match_unordered

    limits = Limits.for_verbosity(verbosity)
    if ordered:
        return _explain_ordered(expected, observed, labels, limits, noun)
    matched = match_unordered(expected, observed)
    taken = {j for j in matched if j is not None}
    missing = [e for e, j in zip(expected, matched, strict=True) if j is None]
    unexpected = [o for o in observed if o.index not in taken]
    return explain_unmatched(missing, unexpected, labels, limits, noun), matched


def explain_unmatched(
    missing: Sequence[Expectation],
    unexpected: Sequence[Observed],
    labels: Labels,
    limits: Limits,
    noun: str,
) -> list[str] | None:
    """The failure lines of an unordered comparison, None when nothing is left unmatched.

    Takes only the expectations and observations left over by a matching, so
    that a caller which matched plain values builds objects for these alone.
    """
    if not missing and not unexpected:
        return None
    summary = (
        f"{labels.actual} {noun}s differ from the {labels.expected} ones (in any order): "
        f"{len(missing)} {labels.expected} but not {labels.actual}, "
        f"{len(unexpected)} {labels.actual} but not {labels.expected}"
    )
    lines = [summary]
    lines += _closest(missing, unexpected, labels, limits)
    lines += _missing_and_unexpected(missing, unexpected, labels, limits, noun)
    return lines


def _missing_and_unexpected(
    missing: Sequence[Expectation],
    unexpected: Sequence[Observed],
    labels: Labels,
    limits: Limits,
    noun: str,
) -> list[str]:
    lines: list[str] = []
    if missing:
        lines += _listing(
            labels.missing.format(noun=noun),
            [f"[{e.index}] {e.describe(limits)}" for e in missing],
            limits,
        )
    if unexpected:
        lines += _listing(
            labels.unexpected.format(noun=noun),
            [f"[{o.index}] {o.describe(limits)}" for o in unexpected],
            limits,
        )
    return lines


def _closest(
    missing: Sequence[Expectation],
    unexpected: Sequence[Observed],
    labels: Labels,
    limits: Limits,
) -> list[str]:
    """For a missing message, the unexpected one of its kind with the fewest differences."""
    lines: list[str] = []
    used: set[int] = set()
    for e in missing[: limits.blocks]:
        best: tuple[int, Observed, list[tuple[str, Any, Any]]] | None = None
        for o in unexpected[: limits.items * 10]:
            if o.index in used or o.label != e.label:
                continue
            diffs = e.diff(o)
            if best is None or len(diffs) < best[0]:
                best = (len(diffs), o, diffs)
        if best is not None:
            used.add(best[1].index)
            header = (
                f"{labels.expected.capitalize()} [{e.index}] and "
                f"{labels.actual} [{best[1].index}] ({e.label})"
            )
            lines += difference_block(header, best[2], labels, limits)
    return lines


def _explain_ordered(
    expected: Sequence[Expectation],
    observed: Sequence[Observed],
    labels: Labels,
    limits: Limits,
    noun: str,
) -> tuple[list[str] | None, list[int | None]]:
    from ._compare import match_ordered, match_unordered

    n, m = len(expected), len(observed)
    differing = match_ordered(expected, observed)
    if n == m:
        matched: list[int | None] = list(range(n))
        if not differing:
            return None, matched
        for i in differing:
            matched[i] = None
        first = differing[0]
        if len(differing) == 1:
            summary = (
                f"{labels.actual} {noun}s differ from the {labels.expected} ones at index {first}"
            )
        else:
            summary = (
                f"{labels.actual} {noun}s differ from the {labels.expected} ones at "
                f"{len(differing)} of {n} positions, first at index {first}"
            )
        lines = [summary]
        for i in differing[: limits.blocks]:
            o = observed[i]
            lines += difference_block(
                f"At index {i} ({o.label})", expected[i].diff(o), labels, limits
            )
        hidden = len(differing) - limits.blocks
        if hidden > 0:
            lines.append(f"... and {hidden} more differing positions (use -vv to see all)")
        lines += _context(observed, dict.fromkeys(differing, "differs"), labels, limits, noun)
        return lines, matched

    # Different lengths: keep the equal prefix and suffix, compare what is between.
    limit = min(n, m)
    prefix = differing[0] if differing else limit
    suffix = 0
    while suffix < limit - prefix and expected[n - 1 - suffix].accepts(observed[m - 1 - suffix]):
        suffix += 1
    window_expected = expected[prefix : n - suffix]
    window_observed = observed[prefix : m - suffix]
    local = match_unordered(
        [e.at(k) for k, e in enumerate(window_expected)],
        [o.at(k) for k, o in enumerate(window_observed)],
    )
    taken = {j for j in local if j is not None}
    missing = [e for e, j in zip(window_expected, local, strict=True) if j is None]
    unexpected = [o for k, o in enumerate(window_observed) if k not in taken]
    matched = [None] * n
    for i in range(prefix):
        matched[i] = i
    for k in range(suffix):
        matched[n - 1 - k] = m - 1 - k
    for k, j in enumerate(local):
        if j is not None:
            matched[prefix + k] = prefix + j
    summary = (
        f"{labels.actual} {noun}s differ from the {labels.expected} ones: "
        f"{labels.expected} {_count(n, noun)}, {labels.actual} {m}"
    )
    lines = [summary]
    if not missing and not unexpected:
        lines.append(
            f"The same {noun}s were {labels.actual} in another order, "
            f"between index {prefix} and {prefix + len(window_observed) - 1}"
        )
    lines += _closest(missing, unexpected, labels, limits)
    lines += _missing_and_unexpected(missing, unexpected, labels, limits, noun)
    marks = {o.index: "extra" for o in unexpected}
    if marks:
        lines += _context(observed, marks, labels, limits, noun)
    return lines, matched


def with_article(name: str) -> str:
    """``name`` after "a" or "an": "an int", "a list"."""
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def type_name(value: Any) -> str:
    """What an error says ``value`` is: "the class X" for a class, else "a X"."""
    if isinstance(value, type):
        return f"the class {value.__name__}"
    return with_article(type(value).__name__)
