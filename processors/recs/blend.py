"""Serving: one list from the model, co-watch and trending, by time of day.

Reciprocal-rank fusion: a title earns ``weight / (RRF_K + rank)`` from every source that
lists it (rank from 0), and goes to whichever source gave it most. Ranks, not raw
scores, because the three scores are on unrelated scales (a dot product, co-viewers,
view starts). The weights put the trained model first, keep "because you watched" (the
fresh signal: the stream updates it at once, the model only at each training) close
behind, and let trending fill in for users the model does not know yet. Titles the user
has finished are left out whatever their source.

Pure: same inputs, same list.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Source = Literal["model", "co_watch", "trending"]
WEIGHTS: dict[Source, float] = {"model": 1.0, "co_watch": 0.8, "trending": 0.4}
RRF_K = 5
PRECEDENCE = {source: n for n, source in enumerate(WEIGHTS)}  # ties go to the earlier source


@dataclass
class Blended:
    title_id: str
    score: float
    source: Source
    sources: list[Source] = field(default_factory=list)
    because: list[str] = field(default_factory=list)


def blend(
    ranked: dict[Source, Sequence[str]],
    *,
    finished: Iterable[str] = (),
    because: dict[str, list[str]] | None = None,
    top: int | None = None,
) -> list[Blended]:
    """``ranked``: each source's titles, best first. Best blended first; only the first
    ``top`` when given (the read API's page end: the rest are scored but not built)."""
    done = set(finished)
    score: dict[str, float] = defaultdict(float)
    share: dict[str, dict[Source, float]] = defaultdict(dict)
    for source, titles in ranked.items():
        rank = 0
        for title in dict.fromkeys(titles):  # a source lists a title once
            if title in done:
                continue
            part = WEIGHTS[source] / (RRF_K + rank)
            rank += 1
            score[title] += part
            share[title][source] = part
    order = sorted(score, key=lambda t: (-score[t], t))[:top]
    return [
        Blended(
            title_id=t,
            score=round(score[t], 6),
            source=max(share[t], key=lambda s: (share[t][s], -PRECEDENCE[s])),
            sources=[s for s in WEIGHTS if s in share[t]],
            because=sorted((because or {}).get(t, [])) if "co_watch" in share[t] else [],
        )
        for t in order
    ]
