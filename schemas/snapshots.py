"""Published contract snapshots on disk: read them, and plan and write new ones.

A snapshot (``schemas/published/<type>.v<version>.json``) is the JSON Schema of a
version as it was when producers first used it; ``schemas.compat`` measures every
later change of that version against it. Writing one is deliberate
(``riverbed schemas snapshot``), and a snapshot is only ever replaced by a schema that
is backward compatible with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.compat import Break, compare
from schemas.export import render

PUBLISHED_DIR = Path(__file__).parent / "published"
SNAPSHOT_GLOB = "*.v*.json"


@dataclass(frozen=True, slots=True)
class SnapshotPlan:
    """What ``snapshot`` will do: files to write, and the ones it must refuse."""

    new: tuple[str, ...]
    updated: tuple[str, ...]
    refused: Mapping[str, tuple[Break, ...]]


def load_published(directory: Path = PUBLISHED_DIR) -> dict[str, dict[str, Any]]:
    """Every snapshot in ``directory``, parsed, by file name."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob(SNAPSHOT_GLOB))
    }


def plan_snapshots(
    published: Mapping[str, Mapping[str, Any]],
    current: Mapping[str, Mapping[str, Any]],
    *,
    update_compatible: bool = False,
) -> SnapshotPlan:
    """Decide which snapshots to write: unpublished versions, and optionally refreshes.

    A refresh (``update_compatible``) replaces a snapshot only when the current schema
    differs from it compatibly, so later changes are measured against the newest form.
    """
    new = tuple(sorted(name for name in current if name not in published))
    updated: list[str] = []
    refused: dict[str, tuple[Break, ...]] = {}
    if update_compatible:
        for name in sorted(set(current) & set(published)):
            if current[name] == published[name]:
                continue
            breaks = compare(published[name], current[name])
            if breaks:
                refused[name] = tuple(breaks)
            else:
                updated.append(name)
    return SnapshotPlan(new=new, updated=tuple(updated), refused=refused)


def write_documents(
    directory: Path, documents: Mapping[str, Mapping[str, Any] | str]
) -> list[Path]:
    """Write each document as ``directory/name`` (rendered if not text); returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in documents.items():
        path = directory / name
        text = document if isinstance(document, str) else render(document)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
