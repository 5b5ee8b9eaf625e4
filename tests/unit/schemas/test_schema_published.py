"""Every published (type, version) must still accept what it accepted when published."""

from __future__ import annotations

import pytest

from schemas.compat import check_published
from schemas.export import json_schemas
from schemas.snapshots import PUBLISHED_DIR, load_published

pytestmark = pytest.mark.unit

PUBLISHED = load_published(PUBLISHED_DIR)


def test_published_snapshots_exist() -> None:
    assert PUBLISHED, f"no snapshots in {PUBLISHED_DIR}"


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_version_is_still_backward_compatible(name: str) -> None:
    report = check_published({name: PUBLISHED[name]}, json_schemas())
    breaks = report.breaks[name]
    assert not breaks, f"{name} changed incompatibly; publish a new version instead:\n" + "\n".join(
        str(b) for b in breaks
    )
