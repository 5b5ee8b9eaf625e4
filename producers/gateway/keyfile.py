"""The key file's records and their JSON form (versions 1 to 3), and the hashes.

Version 3 entries hash the secret with SHA-256 and a per-key salt (``"kdf": {"name":
"sha256"}``) and may bind stores and users; versions 1 and 2 hold scrypt hashes and no
bindings, and version 1 no scopes either: all of them are read as they are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from producers.gateway.scopes import ALL_TYPES, allows

FILE_VERSION = 3
SHA256 = "sha256"
SCRYPT = "scrypt"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What the store knows about one key (never the key)."""

    name: str
    key_id: str
    created_at: datetime
    revoked_at: datetime | None = None
    # None: a key from before scopes existed, which may publish every type.
    scopes: tuple[str, ...] | None = None
    # None: not bound; events may name any store (``store_id``) or user (``user_id``).
    stores: tuple[str, ...] | None = None
    users: tuple[str, ...] | None = None
    # True: every request carries a signed player token naming its one user.
    player_tokens: bool = False

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def types(self) -> tuple[str, ...]:
        """The type patterns this key may publish (``("*",)`` for a key without scopes)."""
        return ALL_TYPES if self.scopes is None else self.scopes

    def allows(self, event_type: str) -> bool:
        """Whether this key may publish events of ``event_type``."""
        return allows(self.types, event_type)


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost: the default takes ~50 ms and 16 MiB per hash; tests use less."""

    n: int = 2**14
    r: int = 8
    p: int = 1


@dataclass(frozen=True, slots=True)
class Entry:
    record: KeyRecord
    params: ScryptParams | None  # None: a SHA-256 entry
    salt: bytes
    digest: bytes


def hash_secret(secret: str, salt: bytes, params: ScryptParams | None) -> bytes:
    if params is None:
        return hashlib.sha256(salt + secret.encode()).digest()
    return hashlib.scrypt(
        secret.encode(), salt=salt, n=params.n, r=params.r, p=params.p, maxmem=256 * 2**20, dklen=32
    )


def entry_to_json(entry: Entry) -> dict[str, Any]:
    record = entry.record
    return {
        "name": record.name,
        "id": record.key_id,
        "created_at": record.created_at.isoformat(),
        "revoked_at": record.revoked_at.isoformat() if record.revoked_at else None,
        "scopes": list(record.scopes) if record.scopes is not None else None,
        "stores": list(record.stores) if record.stores is not None else None,
        "users": list(record.users) if record.users is not None else None,
        "player_tokens": record.player_tokens,
        "kdf": {"name": SHA256}
        if entry.params is None
        else {"name": SCRYPT, "n": entry.params.n, "r": entry.params.r, "p": entry.params.p},
        "salt": entry.salt.hex(),
        "hash": entry.digest.hex(),
    }


def entry_from_json(data: dict[str, Any]) -> Entry:
    revoked = data.get("revoked_at")
    record = KeyRecord(
        data["name"],
        data["id"],
        datetime.fromisoformat(data["created_at"]),
        datetime.fromisoformat(revoked) if revoked else None,
        _strings(data, "scopes"),  # absent: a version 1 file
        _strings(data, "stores"),  # absent: before version 3, not bound
        _strings(data, "users"),
        data.get("player_tokens") is True,  # absent before version 3: no tokens needed
    )
    kdf = data["kdf"]
    if kdf["name"] == SHA256:
        params = None
    elif kdf["name"] == SCRYPT:
        params = ScryptParams(kdf["n"], kdf["r"], kdf["p"])
    else:
        raise ValueError(f"key {record.key_id}: unsupported kdf {kdf['name']!r}")
    return Entry(record, params, bytes.fromhex(data["salt"]), bytes.fromhex(data["hash"]))


def _strings(data: dict[str, Any], field: str) -> tuple[str, ...] | None:
    value = data.get(field)
    if value is None:
        return None
    if not (type(value) is list and all(type(s) is str for s in value)):
        raise ValueError(f"key {data['id']}: {field} must be a list of strings")
    return tuple(value)
