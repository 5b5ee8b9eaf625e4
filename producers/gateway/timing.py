"""Trusted time: how far from the gateway's clock a client's ``occurred_at`` may be.

A client's clock decides ``occurred_at``; one event dated in the future would become the
"newest" event everywhere it is compared. So an event more than
``gateway_max_future_skew_s`` ahead of the gateway's clock is refused (422, field
``occurred_at``). Old events are normal (a device that was offline, a replay, a
simulation run with ``--epoch``): they are accepted, counted, and the response carries
``X-Riverbed-Old-Events`` with how many of the request's events were older than
``gateway_old_event_age_s``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

OLD_EVENTS_HEADER = "X-Riverbed-Old-Events"


def future_error(occurred_at: datetime, now: datetime, skew_s: float) -> dict[str, Any] | None:
    """The 422 detail for an ``occurred_at`` too far ahead of ``now``, else None."""
    if occurred_at - now <= timedelta(seconds=skew_s):
        return None
    return {
        "loc": ["occurred_at"],
        "msg": f"is more than {skew_s:g} s ahead of the gateway's clock ({now.isoformat()})",
        "type": "future_time",
    }


def is_old(occurred_at: datetime, now: datetime, age_s: float) -> bool:
    return now - occurred_at > timedelta(seconds=age_s)
