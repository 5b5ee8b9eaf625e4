"""The gateway's API keys: a JSON file of hashes, never the keys themselves.

A key reads ``rbk_<id>_<secret>``. The id is a public lookup handle (it picks the one
stored hash to check, so a random key costs no hashing at all); the secret is 32 random
bytes (256 bits), so a salted SHA-256 is as strong as a slow hash against guessing and
costs microseconds: a burst of wrong secrets costs no more than the same burst of right
ones. Digests are compared with :func:`hmac.compare_digest`.

Files from before version 3 hold scrypt hashes (``n=2^14``, ~50 ms and 16 MiB each).
They keep working; a failed scrypt check counts against the key id, and past
``failures`` per window that id is refused without hashing (see
:mod:`producers.gateway.failures`). Revoke and re-create such a key to make it cheap.
A key that verified once is remembered (by its SHA-256, in memory); the memory is dropped
whenever the file changes, so a revocation by another process (``riverbed keys revoke``)
takes effect on the next request.

Each key carries its scopes: the event types it may publish (see
:mod:`producers.gateway.scopes`), and optionally the stores and users its events may
name (see :mod:`producers.gateway.objects`). Files written before scopes existed
(``"version": 1``) are read as they are: their keys may publish every type.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from producers.gateway.failures import FailureLimit
from producers.gateway.keyfile import (
    FILE_VERSION,
    SCRYPT,
    SHA256,
    Entry,
    KeyRecord,
    ScryptParams,
    entry_from_json,
    entry_to_json,
    hash_secret,
)
from producers.gateway.objects import check_ids
from producers.gateway.scopes import ALL_TYPES, ScopeError, check

__all__ = [
    "BOOTSTRAP_NAME",
    "KEY_PREFIX",
    "NAME_PATTERN",
    "KeyRecord",
    "KeyStore",
    "KeyStoreError",
    "ScryptParams",
]

KEY_PREFIX = "rbk"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")
BOOTSTRAP_NAME = "bootstrap"  # the name ``settings.gateway_api_key`` authenticates as
_ID_PATTERN = re.compile(r"^[0-9a-f]{12}$")
_FAILED_CACHE_SIZE = 1024


class KeyStoreError(ValueError):
    """A key store operation was refused (bad name or scope, duplicate, unknown name)."""


class KeyStore:
    """API keys in a JSON file at ``path`` (created with mode 0600 on first write)."""

    def __init__(
        self,
        path: Path,
        *,
        params: ScryptParams | None = None,
        kdf: str = SHA256,
        failures: FailureLimit | None = None,
    ) -> None:
        """``kdf``: how new keys are hashed (``scrypt`` only to write legacy entries in
        tests); ``failures``: the per-key-id limit on failed scrypt checks."""
        if kdf not in (SHA256, SCRYPT):
            raise ValueError(f"unknown kdf {kdf!r}")
        self.path = Path(path)
        self._params = params or ScryptParams()
        self._kdf = kdf
        self._id_failures = failures or FailureLimit(5, 60.0)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._entries: dict[str, Entry] = {}  # by key id
        self._verified: dict[str, bytes] = {}  # key id -> SHA-256 of the verified key
        self._failed: set[bytes] = set()  # SHA-256 of keys that failed verification

    def create(
        self,
        name: str,
        *,
        types: Iterable[str] = ALL_TYPES,
        stores: Iterable[str] | None = None,
        users: Iterable[str] | None = None,
        player_tokens: bool = False,
    ) -> str:
        """Add a key called ``name`` that may publish ``types`` (patterns checked against
        the registry), for only ``stores`` / ``users`` if given (and, with
        ``player_tokens``, only for the user of each request's signed player token), and
        return it: the only time it is ever shown.

        ``types`` defaults to every type here; ``riverbed keys create`` requires it.
        """
        if not NAME_PATTERN.fullmatch(name) or name == BOOTSTRAP_NAME:
            raise KeyStoreError(
                f"bad key name {name!r}: 1-48 of A-Z a-z 0-9 _ - (not {BOOTSTRAP_NAME!r})"
            )
        try:
            scopes = check(types)
            bound_stores = check_ids("stores", stores)
            bound_users = check_ids("users", users)
        except ScopeError as exc:
            raise KeyStoreError(str(exc)) from None
        with self._lock:
            self._reload()
            if any(e.record.name == name and e.record.active for e in self._entries.values()):
                raise KeyStoreError(f"an active key named {name!r} exists; revoke it first")
            key_id = secrets.token_hex(6)
            secret = secrets.token_urlsafe(32)
            salt = secrets.token_bytes(16)
            record = KeyRecord(
                name,
                key_id,
                datetime.now(UTC),
                scopes=scopes,
                stores=bound_stores,
                users=bound_users,
                player_tokens=player_tokens,
            )
            params = self._params if self._kdf == SCRYPT else None
            digest = hash_secret(secret, salt, params)
            self._entries[key_id] = Entry(record, params, salt, digest)
            self._write()
        return f"{KEY_PREFIX}_{key_id}_{secret}"

    def verify(self, key: str) -> KeyRecord | None:
        """The active record of ``key``, or None; may run a legacy scrypt (call it off the
        event loop), at most ``failures.limit`` times per key id and window when wrong."""
        found = self.cached(key)
        if found is not None:
            return found
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != KEY_PREFIX or not _ID_PATTERN.fullmatch(parts[1]):
            return None
        fingerprint = hashlib.sha256(key.encode()).digest()
        with self._lock:
            self._reload()
            entry = self._entries.get(parts[1])
            if entry is None or not entry.record.active or fingerprint in self._failed:
                return None
        slow = entry.params is not None
        if slow and self._id_failures.blocked_for(parts[1]) > 0:
            return None
        digest = hash_secret(parts[2], entry.salt, entry.params)
        with self._lock:
            if not hmac.compare_digest(digest, entry.digest):
                if slow:
                    self._id_failures.failed(parts[1])
                if len(self._failed) >= _FAILED_CACHE_SIZE:
                    self._failed.clear()
                self._failed.add(fingerprint)
                return None
            current = self._entries.get(parts[1])  # the file may have changed meanwhile
            if current is None or not current.record.active or current.digest != entry.digest:
                return None
            self._verified[parts[1]] = fingerprint
        return current.record

    def is_slow(self, key: str) -> bool:
        """Whether verifying ``key`` may run scrypt (a legacy entry): then call
        :meth:`verify` in a thread; a SHA-256 check is cheaper than the thread hop."""
        parts = key.split("_", 2)
        if len(parts) != 3:
            return False
        with self._lock:
            entry = self._entries.get(parts[1])
        return entry is not None and entry.params is not None

    def cached(self, key: str) -> KeyRecord | None:
        """The record of a key verified before and unchanged since; None means unknown."""
        parts = key.split("_", 2)
        if len(parts) != 3:
            return None
        with self._lock:
            self._reload()
            known = self._verified.get(parts[1])
            entry = self._entries.get(parts[1])
        if known is None or entry is None:
            return None
        if not hmac.compare_digest(hashlib.sha256(key.encode()).digest(), known):
            return None
        return entry.record

    def revoke(self, name: str) -> KeyRecord:
        """Revoke the active key called ``name``; raises :class:`KeyStoreError` if none."""
        with self._lock:
            self._reload()
            for key_id, entry in self._entries.items():
                if entry.record.name == name and entry.record.active:
                    record = replace(entry.record, revoked_at=datetime.now(UTC))
                    self._entries[key_id] = Entry(record, entry.params, entry.salt, entry.digest)
                    self._verified.pop(key_id, None)
                    self._write()
                    return record
        raise KeyStoreError(f"no active key named {name!r}")

    def list(self) -> builtins.list[KeyRecord]:
        """Every key, revoked ones included, oldest first."""
        with self._lock:
            self._reload()
            return sorted((e.record for e in self._entries.values()), key=lambda r: r.created_at)

    # -- the file ---------------------------------------------------------------------

    def _reload(self) -> None:
        """Re-read the file if it changed since we last read or wrote it (lock held)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            if self._stamp is not None or self._entries:
                self._entries, self._verified, self._stamp = {}, {}, None
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        document = json.loads(self.path.read_text())
        self._entries = {e.record.key_id: e for e in map(entry_from_json, document["keys"])}
        self._verified = {}
        self._failed = set()
        self._stamp = stamp

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "version": FILE_VERSION,
            "keys": [entry_to_json(e) for e in self._entries.values()],
        }
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".api-keys.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as file:  # mkstemp creates it 0600
                json.dump(document, file, indent=2)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        stat = self.path.stat()
        self._stamp = (stat.st_mtime_ns, stat.st_size)
