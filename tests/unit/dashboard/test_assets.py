"""The vendored charting library."""

from __future__ import annotations

import pytest

from dashboard.api.pages import INSTALL_HINT, missing_vendor_files

pytestmark = pytest.mark.unit


def test_the_charting_library_is_installed_from_npm() -> None:
    assert not missing_vendor_files(), INSTALL_HINT
