"""The viewing worker on the real stack: sessions match their events; replays are no-ops."""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from typing import Any

from pymongo import AsyncMongoClient

from processors.viewing import profiles, sessions
from producers.simulators.simulation import Simulation
from riverbed.sandbox import Namespace
from schemas import VIEWING_TOPIC, Envelope

GROUP = {"viewing": VIEWING_TOPIC}


async def snapshot(ns: Namespace) -> tuple[dict[str, list[Any]], list[Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        ns.settings.mongo_uri.get_secret_value(), tz_aware=True
    )
    try:
        db = client[ns.mongo_db]
        docs = {
            name: [d async for d in db[name].find({}).sort("_id", 1)]
            for name in ("viewing_marks", "viewing_sessions", "user_profiles", "co_watch_edges")
        }
    finally:
        await client.close()
    conn = await ns.owner()
    try:
        trending = [
            tuple(r) for r in await conn.fetch("select * from title_views_minute order by 1, 2")
        ]
    finally:
        await conn.close()
    return docs, trending


async def test_sessions_match_their_events_and_replay_changes_nothing(ns: Namespace) -> None:
    sim = Simulation(9, {"viewing": 1})
    events: list[Envelope[Any]] = list(itertools.islice(sim.events(), 4000))
    # Deliver out of order within each session's partition: shuffle the whole stream.
    shuffled = events[:]
    random.Random(1).shuffle(shuffled)
    ns.start("viewing")
    await ns.publish(shuffled[:2000])
    await ns.publish(shuffled[2000:] + shuffled[:300])  # and some duplicates
    await ns.wait_caught_up(GROUP)

    docs, trending = await snapshot(ns)
    by_session: dict[str, list[Envelope[Any]]] = defaultdict(list)
    for e in events:
        by_session[e.payload.session_id].append(e)
    stored = {d["_id"]: d for d in docs["viewing_sessions"]}
    assert set(stored) == set(by_session)
    for sid, evs in by_session.items():
        want = sessions.to_document(sessions.fold(sessions.mark_of(e) for e in evs))
        assert stored[sid] == want, sid

    ended = [s for s in by_session if stored[s]["state"] in ("stopped", "completed")]
    assert ended, "the scenario ends some sessions"
    ended_per_user = Counter(stored[s]["user_id"] for s in ended)
    assert {p["_id"]: p["sessions"] for p in docs["user_profiles"]} == dict(ended_per_user)
    assert docs["co_watch_edges"], "users who watched two titles link them"
    starts = Counter(
        (e.payload.title_id, profiles.minute_of(e.occurred_at))
        for e in events
        if e.type == "playback.started"
    )
    assert {(t, m): n for t, m, n in trending} == starts

    ns.stop_all()
    await ns.reset_offsets("viewing", VIEWING_TOPIC)
    ns.start("viewing")
    await ns.wait_caught_up(GROUP)
    assert await snapshot(ns) == (docs, trending)
