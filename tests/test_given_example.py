"""The reading club example application passes with the plugin."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "reading_club"


def test_reading_club_example_passes(pytester: pytest.Pytester) -> None:
    # Its own pytest.ini configures the run, wherever pytest is started from.
    result = pytester.runpytest_subprocess(str(EXAMPLE), "-p", "no:cacheprovider", "-v")
    result.stdout.fnmatch_lines_random(
        [
            "*test_shelf.py::test_taken_isbn_is_refused_and_nothing_is_kept[[]memory[]] PASSED*",
            "*test_shelf.py::test_taken_isbn_is_refused_and_nothing_is_kept[[]sqlite[]] PASSED*",
            "*test_reviews.py::test_transaction_failing_after_the_review_keeps_nothing"
            "[[]memory[]] PASSED*",
            "*test_reviews.py::test_transaction_failing_after_the_review_keeps_nothing"
            "[[]sqlite[]] PASSED*",
        ]
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 20
    assert not outcomes.keys() & {"failed", "errors"}
