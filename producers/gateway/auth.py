"""Who is calling: an API key from ``X-API-Key`` or ``Authorization: Bearer``.

Keys come from the :class:`~producers.gateway.keys.KeyStore`, plus
``settings.gateway_api_key`` as a bootstrap key named ``bootstrap`` that may publish
every event type (scope ``*``). Keys never appear in a log line or an error message.

A client address that failed ``failures.limit`` times in a window gets 429 without any
check until the window ends: guessing is throttled before it costs anything.
"""

from __future__ import annotations

import asyncio
import hmac
import math
from datetime import UTC, datetime

from pydantic import SecretStr

from producers.gateway.errors import ApiError
from producers.gateway.failures import FailureLimit
from producers.gateway.keys import BOOTSTRAP_NAME, KeyRecord, KeyStore
from producers.gateway.scopes import ALL_TYPES

_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="riverbed"'}
_BOOTSTRAP = KeyRecord(
    BOOTSTRAP_NAME, BOOTSTRAP_NAME, datetime(1970, 1, 1, tzinfo=UTC), scopes=ALL_TYPES
)


class Authenticator:
    """Verifies presented keys; the slow hash runs in a worker thread, once per key."""

    def __init__(
        self,
        keys: KeyStore | None,
        bootstrap: SecretStr | None,
        *,
        failures: FailureLimit | None = None,
    ) -> None:
        self._keys = keys
        self._bootstrap = bootstrap.get_secret_value().encode() if bootstrap else None
        self._failures = failures or FailureLimit(20, 60.0)

    async def authenticate(self, key: str | None, client: str = "") -> KeyRecord:
        """The caller's record, or :class:`ApiError` 401 (same message whatever was wrong),
        or 429 when ``client`` (its address) failed too often lately."""
        wait = self._failures.blocked_for(client)
        if wait > 0:
            raise ApiError(
                429,
                "too many failed authentications from this address; retry later",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
                reason="auth_throttled",
            )
        record = await self._verify(key) if key else None
        if record is None:
            self._failures.failed(client)
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
        if self._keys.is_slow(key):
            return await asyncio.to_thread(self._keys.verify, key)
        return self._keys.verify(key)
