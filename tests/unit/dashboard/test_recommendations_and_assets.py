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
    ranked, because = rank(history, partners)
    assert ranked == ["x", "y"]  # 5 co-viewers each: ties by title
    assert dict(because) == {"x": ["a", "b"], "y": ["b"]}


def test_the_charting_library_is_installed_from_npm() -> None:
    assert not missing_vendor_files(), INSTALL_HINT
