"""Recommendation ranking (pure) and the vendored charting library."""

from __future__ import annotations

import pytest

from dashboard.api.pages import INSTALL_HINT, missing_vendor_files
from dashboard.api.viewing import rank

pytestmark = pytest.mark.unit


def test_rank_sums_co_viewers_and_skips_what_the_user_watched() -> None:
    history = [{"title_id": "a"}, {"title_id": "b"}]
    partners = {
        "a": [{"title_id": "b", "viewers": 9}, {"title_id": "x", "viewers": 3}],
        "b": [{"title_id": "x", "viewers": 2}, {"title_id": "y", "viewers": 5}],
    }
    ranked = rank(history, partners)
    assert [(r.title_id, r.score, r.because) for r in ranked] == [
        ("x", 5, ["a", "b"]),
        ("y", 5, ["b"]),
    ]


def test_the_charting_library_is_installed_from_npm() -> None:
    assert not missing_vendor_files(), INSTALL_HINT
