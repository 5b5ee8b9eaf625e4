"""Who is calling: an API key from ``X-API-Key`` or ``Authorization: Bearer``.

Keys come from the :class:`~producers.gateway.keys.KeyStore`, plus
``settings.gateway_api_key`` as a bootstrap key named ``bootstrap`` that may publish
every event type (scope ``*``). Keys never appear in a log line or an error message.
"""

from __future__ import annotations

import asyncio
import hmac
from datetime import UTC, datetime

from pydantic import SecretStr

from producers.gateway.errors import ApiError
from producers.gateway.keys import BOOTSTRAP_NAME, KeyRecord, KeyStore
from producers.gateway.scopes import ALL_TYPES

_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="riverbed"'}
_BOOTSTRAP = KeyRecord(
    BOOTSTRAP_NAME, BOOTSTRAP_NAME, datetime(1970, 1, 1, tzinfo=UTC), scopes=ALL_TYPES
)


class Authenticator:
    """Verifies presented keys; the slow hash runs in a worker thread, once per key."""

    def __init__(self, keys: KeyStore | None, bootstrap: SecretStr | None) -> None:
        self._keys = keys
        self._bootstrap = bootstrap.get_secret_value().encode() if bootstrap else None

    async def authenticate(self, key: str | None) -> KeyRecord:
        """The caller's record, or :class:`ApiError` 401 (same message whatever was wrong)."""
        record = await self._verify(key) if key else None
        if record is None:
            raise ApiError(
                401,
                "a valid API key is required (X-API-Key or Authorization: Bearer)",
                headers=_UNAUTHORIZED_HEADERS,
            )
        return record

    async def _verify(self, key: str) -> KeyRecord | None:
        if self._bootstrap is not None and hmac.compare_digest(key.encode(), self._bootstrap):
            return _BOOTSTRAP
        if self._keys is None:
            return None
        cached = self._keys.cached(key)
        if cached is not None:
            return cached
        return await asyncio.to_thread(self._keys.verify, key)
