"""The async client, built from settings; nothing connects at import time."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from core.settings import Settings

Doc = dict[str, Any]


def create_client(settings: Settings) -> AsyncMongoClient[Doc]:
    return AsyncMongoClient(
        settings.mongo_uri.get_secret_value(), tz_aware=True, serverSelectionTimeoutMS=5000
    )


def database(client: AsyncMongoClient[Doc], settings: Settings) -> AsyncDatabase[Doc]:
    return client[settings.mongo_db]
