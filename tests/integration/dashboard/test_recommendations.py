"""The trained recommender end to end: stored views, training, versions in PostgreSQL and
MongoDB, the read API's blend by time of day, the stream's fresh co-watch signal, and
the dashboard in headless Chromium (screenshot: artifacts/dashboard-recommendations.png).

The views are a seeded simulated population written into the read model as the owner
(the viewing worker's own tests cover how sessions get there); the fresh-signal test
goes through the real viewing worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from core.settings import Settings
from core.timeofday import bucket_of
from dashboard import create_app
from processors.recs.store import COLLECTION, SERVED, publish_documents
from processors.recs.train import Trained, train
from producers.simulators.tastes import View, simulated_views
from riverbed.sandbox import Namespace
from schemas import VIEWING_TOPIC
from stores.mongo.client import Doc, create_client, database
from stores.postgres.pool import create_pool
from tests.integration.dashboard.conftest import SetClock, ns_settings, playback
from tests.integration.dashboard.test_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    live_dashboard,
    playwright,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

USERS, VIEWS_PER_USER = 60, 30
NOW = datetime(2025, 2, 10, 9, 30, tzinfo=UTC)  # a morning after the seeded month
EVENING = NOW.replace(hour=21)

SEED_INDEX = """
insert into viewing_session_index (session_id, user_id, title_id, genre, state, started_at,
    ended_at, last_position_s, watched_seconds, pauses, completed, events, context)
select s, u, t, 'drama', 'ended', a, a + interval '20 minutes', 1200, 1200, 0, c, 3, '{}'::jsonb
from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bool[]) as v(s, u, t, a, c)
"""


@dataclass
class Seeded:
    ns: Namespace
    settings: Settings
    pool: asyncpg.Pool
    db: AsyncDatabase[Doc]
    views: list[View]
    first: Trained
    client: httpx.AsyncClient


@pytest.fixture(scope="module")
async def seeded(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Seeded]:
    ns = Namespace(settings, uuid.uuid4().hex[:10], tmp_path_factory.mktemp("recs"))
    await ns.create()
    views = simulated_views(3, users=USERS, views_per_user=VIEWS_PER_USER)
    mongo = None
    pool = None
    try:
        conn = await ns.owner()
        try:
            await conn.execute(
                SEED_INDEX,
                [f"sess-{n:05d}" for n in range(len(views))],
                [v.user_id for v in views],
                [v.title_id for v in views],
                [v.at for v in views],
                [v.completed for v in views],
            )
        finally:
            await conn.close()
        local = ns_settings(settings, ns)
        pool = await create_pool(local.postgres_dsn.get_secret_value(), schema=ns.schema)
        mongo = create_client(local)
        db = database(mongo, local)
        first = await train(pool, db)
        assert first is not None
        app = create_app(local, clock=SetClock(NOW))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                yield Seeded(ns, local, pool, db, views, first, c)
    finally:
        ns.stop_all()
        print(ns.logs())
        if pool is not None:
            await pool.close()
        if mongo is not None:
            await mongo.close()
        await ns.drop()


async def test_each_training_is_a_version_with_metrics_rows_and_documents(seeded: Seeded) -> None:
    first = seeded.first
    assert first.views == len(seeded.views) and first.users == USERS
    assert first.training_s > 0 and first.metrics["hit_rate_at_10"] > 0
    # The second version through the command, as a person retrains.
    done = subprocess.run(  # noqa: ASYNC221 - the command under test, bounded
        [sys.executable, "-m", "riverbed", "recs", "train", "--no-metrics"],
        env={**os.environ, **seeded.ns.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    second = json.loads(done.stdout.strip().splitlines()[-1])
    assert second["version"] == first.version + 1 and second["views"] == len(seeded.views)
    async with seeded.pool.acquire() as conn:
        models = await conn.fetch("select * from recs_models order by version")
        served = await conn.fetch("select version, count(*) from recs_user_items group by 1")
    assert [m["version"] for m in models] == [first.version, second["version"]]
    assert models[0]["metrics"] == first.metrics and models[1]["metrics"] == {}
    assert models[0]["params"]["time_of_day"] is True and models[0]["training_s"] > 0
    # Only the newest version is served: every user, 4 buckets, SERVED titles each.
    assert [(r["version"], r["count"]) for r in served] == [(second["version"], USERS * 4 * SERVED)]
    docs = await seeded.db[COLLECTION].find({}).to_list()
    assert {d["version"] for d in docs} == {second["version"]} and len(docs) == USERS
    doc = next(d for d in docs if d["user_id"] == "user-00001")
    assert doc["_id"] == f"model:{second['version']}:user-00001"
    assert [b["bucket"] for b in doc["buckets"]] == ["night", "morning", "afternoon", "evening"]
    assert all(len(b["items"]) == SERVED for b in doc["buckets"])
    # Publishing a version again (a retry) writes nothing new.
    lists = {
        d["user_id"]: [[(i["title_id"], i["score"]) for i in b["items"]] for b in d["buckets"]]
        for d in docs
    }
    await publish_documents(seeded.db, second["version"], datetime.now(UTC), lists)
    assert await seeded.db[COLLECTION].count_documents({}) == USERS


async def served_rows(seeded: Seeded, user: str, bucket: int) -> list[str]:
    async with seeded.pool.acquire() as conn:
        rows = await conn.fetch(
            "select title_id from recs_user_items where user_id = $1 and bucket = $2 order by rank",
            user,
            bucket,
        )
    return [r["title_id"] for r in rows]


async def test_served_by_time_of_day_without_finished_titles(seeded: Seeded) -> None:
    user = "user-00002"
    finished = {v.title_id for v in seeded.views if v.user_id == user and v.completed}
    got: dict[int, list[dict[str, Any]]] = {}
    for at in (NOW, EVENING):
        r = await seeded.client.get(
            f"/api/users/{user}/recommendations", params={"at": at.isoformat(), "limit": 20}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model_version"] is not None
        assert body["time_of_day"] == ("morning" if at == NOW else "evening")
        items = body["items"]
        assert items and all(i["source"] in i["sources"] for i in items)
        assert not finished & {i["title_id"] for i in items}
        model = [i["title_id"] for i in items if "model" in i["sources"]]
        # The model's part is the stored rows of that bucket, in order, finished ones out.
        expected = [t for t in await served_rows(seeded, user, bucket_of(at)) if t not in finished]
        assert model == [t for t in expected if t in model] and model == expected[: len(model)]
        assert items[0]["source"] == "model"
        got[bucket_of(at)] = items
    morning, evening = ([i["title_id"] for i in got[b]] for b in (1, 3))
    assert morning != evening  # the time of day changes what is recommended


async def test_co_watch_sums_co_viewers_over_the_seeds_without_watched_titles(
    seeded: Seeded,
) -> None:
    """The ranking the statement computes: co-viewers summed over the user's recent titles,
    titles the user watched left out, ties by title, each with the seeds it came from."""
    conn = await seeded.ns.owner()
    try:
        await conn.execute(
            SEED_INDEX,
            ["rank-1", "rank-2"],
            ["user-rank"] * 2,
            ["rk-a", "rk-b"],
            [NOW - timedelta(days=2), NOW - timedelta(days=1)],
            [False, False],
        )
        await conn.executemany(
            "insert into co_watch_counts (title_id, other_title_id, viewers) values ($1, $2, $3)",
            [("rk-a", "rk-b", 9), ("rk-a", "rk-x", 3), ("rk-b", "rk-x", 2), ("rk-b", "rk-y", 5)],
        )
    finally:
        await conn.close()
    at = datetime(2024, 6, 1, 12, tzinfo=UTC)  # before the population: nothing trending
    body = (
        await seeded.client.get(
            "/api/users/user-rank/recommendations", params={"at": at.isoformat()}
        )
    ).json()
    assert body["based_on"] == ["rk-b", "rk-a"] and body["model_version"] is None
    got = [(i["title_id"], i["source"], i["because"]) for i in body["items"]]
    # rk-b (9 co-viewers) was watched; rk-x 3 + 2 and rk-y 5 tie, so by title.
    assert got == [("rk-x", "co_watch", ["rk-a", "rk-b"]), ("rk-y", "co_watch", ["rk-b"])]


async def test_the_default_time_is_now_and_the_stream_adds_co_watch_at_once(
    seeded: Seeded,
) -> None:
    """A title watched a minute ago shows in "because you watched" without retraining."""
    before = (await seeded.client.get("/api/users/user-00003/recommendations")).json()
    assert before["time_of_day"] == "morning" and before["at"].startswith("2025-02-10T09:30")
    assert all(i["source"] != "co_watch" for i in before["items"])  # no co-watch stored yet
    seeded.ns.start("viewing")
    start = NOW - timedelta(minutes=30)
    events = []
    for n in range(3):  # three viewers watched title-new then title-fresh
        events += playback(f"w{n}-a", f"w{n}", "title-new", start, ended=True)
        events += playback(
            f"w{n}-b", f"w{n}", "title-fresh", start + timedelta(minutes=2), ended=True
        )
    events += playback("u3-new", "user-00003", "title-new", NOW - timedelta(minutes=1), ended=True)
    await seeded.ns.publish(events)
    await seeded.ns.wait_caught_up({"viewing": VIEWING_TOPIC}, wait_s=120)
    after = (await seeded.client.get("/api/users/user-00003/recommendations")).json()
    fresh = [i for i in after["items"] if i["title_id"] == "title-fresh"]
    assert fresh and "co_watch" in fresh[0]["sources"] and fresh[0]["because"] == ["title-new"]
    assert after["based_on"][0] == "title-new"
    assert after["model_version"] == before["model_version"]  # no training in between


async def test_the_dashboard_shows_recommendations_with_their_source(
    seeded: Seeded, tmp_path: Path
) -> None:
    async with live_dashboard(seeded.ns, tmp_path / "dashboard.log") as base:
        async with playwright.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1440, "height": 1300})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(base)
            await page.fill("#recs-user", "user-00003")
            await page.select_option("#recs-time", "9")  # morning
            await page.click("#recs-form button")
            await page.wait_for_selector("#recs li[data-source]", timeout=10_000)
            shown: list[dict[str, str]] = await page.evaluate(
                """() => [...document.querySelectorAll('#recs li[data-source]')].map((li) => ({
                    title: li.dataset.title, source: li.dataset.source,
                    badge: li.querySelector('.src').textContent }))"""
            )
            meta = await page.text_content("#recs-meta")
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(
                path=str(ARTIFACTS / "dashboard-recommendations.png"), full_page=True
            )
            await page.fill("#recs-user", "nobody")
            await page.click("#recs-form button")
            await page.wait_for_selector("#recs li.empty", timeout=10_000)
            missing = await page.text_content("#recs li.empty")
            await browser.close()
        assert len(shown) == 10, shown
        assert {s["source"] for s in shown} >= {"model"}
        assert all(s["badge"] == s["source"].replace("_", "-") for s in shown)
        assert meta is not None and meta.startswith("morning · model v")
        assert missing is not None and "no viewing history" in missing
        assert errors == [], errors
