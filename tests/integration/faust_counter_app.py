"""A minimal faust app for the foundation test: counts events per key in a table.

Run as ``python faust_counter_app.py worker``; names come from the environment so each
test run uses its own app id (consumer group), topics and changelog.
"""

from __future__ import annotations

import os

import faust

app = faust.App(
    os.environ["COUNTER_APP_ID"],
    broker=f"kafka://{os.environ['COUNTER_BROKER']}",
    store="memory://",
    topic_partitions=1,
    web_enabled=False,
    # faust's worker binds its web port even with the web disabled (6066 by default): a
    # port of the test's own, so a leftover worker of an interrupted run cannot fail it.
    web_port=int(os.environ["COUNTER_WEB_PORT"]),
    consumer_auto_offset_reset="earliest",
)
source = app.topic(os.environ["COUNTER_IN"], key_type=str, value_type=bytes, value_serializer="raw")
sink = app.topic(os.environ["COUNTER_OUT"], key_type=str, value_type=str, value_serializer="raw")
counts = app.Table("counts", default=int, partitions=1)


@app.agent(source, concurrency=1)
async def count(stream: faust.StreamT[bytes]) -> None:
    async for key, _value in stream.items():
        counts[key] += 1
        await sink.send(key=key, value=str(counts[key]))


if __name__ == "__main__":
    app.main()
