"""The viewing worker on the real stack: sessions match their events; replays and
restarts are no-ops."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter, defaultdict
from typing import Any

from pymongo import AsyncMongoClient

from processors.viewing import profiles, sessions
from producers.simulators.simulation import Simulation
from riverbed.chaos import check
from riverbed.sandbox import Namespace
from schemas import VIEWING_TOPIC, Envelope
from stores.mongo.viewing import ENDED, OPEN

GROUP = {"viewing": VIEWING_TOPIC}
# The read model; the worker's own state tables (marks of open sessions, closed ids) may
# change as sessions close, without changing what anyone reads.
TABLES = ("title_views_minute", "viewing_session_index", "co_watch_edges", "co_watch_counts")


async def snapshot(ns: Namespace) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        ns.settings.mongo_uri.get_secret_value(), tz_aware=True
    )
    try:
        db = client[ns.mongo_db]
        docs = {name: [d async for d in db[name].find({}).sort("_id", 1)] for name in (ENDED, OPEN)}
    finally:
        await client.close()
    conn = await ns.owner()
    try:
        tables = {
            t: [tuple(r) for r in await conn.fetch(f"select * from {t} order by 1, 2")]
            for t in TABLES
        }
    finally:
        await conn.close()
    return docs, tables


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

    docs, tables = await snapshot(ns)
    by_session: dict[str, list[Envelope[Any]]] = defaultdict(list)
    for e in events:
        by_session[e.payload.session_id].append(e)
    ended = {d["_id"]: d for d in docs[ENDED]}
    in_flight = {d["_id"]: d for d in docs[OPEN]}
    assert not ended.keys() & in_flight.keys()
    stored = {**ended, **in_flight}
    assert set(stored) == set(by_session)
    for sid, evs in by_session.items():
        want = sessions.to_document(sessions.fold(sessions.mark_of(e) for e in evs))
        assert stored[sid] == want, sid
        assert (want["ended_at"] is None) == (sid in in_flight), sid
    assert ended, "the scenario ends some sessions"

    index = {r[0]: r for r in tables["viewing_session_index"]}
    assert set(index) == set(by_session)
    ended_per_user = Counter(stored[s]["user_id"] for s in ended)
    assert Counter(r[1] for r in index.values() if r[6] is not None) == ended_per_user
    assert tables["co_watch_edges"], "users who watched two titles link them"
    assert Counter((a, b) for a, b, _ in tables["co_watch_edges"]) == {
        (a, b): n for a, b, n in tables["co_watch_counts"]
    }
    starts = Counter(
        (e.payload.title_id, profiles.minute_of(e.occurred_at))
        for e in events
        if e.type == "playback.started"
    )
    assert {(t, m): n for t, m, n in tables["title_views_minute"]} == starts

    # A restart loads the state of whichever session it meets again; a replay from
    # offset 0 then finds every event already applied.
    ns.stop_all()
    await ns.reset_offsets("viewing", VIEWING_TOPIC)
    ns.start("viewing")
    await ns.wait_caught_up(GROUP)
    assert await snapshot(ns) == (docs, tables)


async def test_kill_9_mid_stream_loses_and_doubles_nothing(ns: Namespace) -> None:
    """A worker killed between batches: its successor reloads the sessions it meets from
    the stored state and replays the uncommitted batch; the result is exact."""
    events = list(itertools.islice(Simulation(4, {"viewing": 1}).events(), 6000))
    first = ns.start("viewing")
    await ns.publish(events[:4000])
    for _ in range(2400):  # until some batches are committed, not all (at most 2 min)
        if await ns.lag("viewing", VIEWING_TOPIC) <= 2500:
            break
        await asyncio.sleep(0.05)
    ns.kill(first)  # SIGKILL: no flush, no commit, no leaving the group
    await ns.publish(events[4000:])
    ns.start("viewing")
    await ns.wait_caught_up(GROUP)

    docs, tables = await snapshot(ns)
    ended = {d["_id"]: d for d in docs[ENDED]}
    in_flight = {d["_id"]: d for d in docs[OPEN]}
    assert not ended.keys() & in_flight.keys()
    assert {**ended, **in_flight} == check.expected_sessions(events)
    want_ended = Counter(d["user_id"] for d in ended.values())
    assert Counter(r[1] for r in tables["viewing_session_index"] if r[6] is not None) == (
        want_ended
    )
    assert Counter((a, b) for a, b, _ in tables["co_watch_edges"]) == {
        (a, b): n for a, b, n in tables["co_watch_counts"]
    }
