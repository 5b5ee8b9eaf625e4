"""Signed player tokens: a key that serves many players' devices may name only the user
its request's token was issued to.

A player service that knows ``RIVERBED_GATEWAY_PLAYER_TOKEN_SECRET`` issues each signed-in
player a token ``rbp.<user_id>.<expires, unix seconds>.<HMAC-SHA256, base64url>``
(``riverbed keys player-token --user U`` makes one). A key created with
``--player-tokens`` must send one in ``X-Player-Token`` with every request, and every
event's ``payload.user_id`` must be that token's user: one device's key cannot write
another user's history. Tokens carry no secret of their own; they expire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

PREFIX = "rbp"
HEADER = "X-Player-Token"
_USER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # the contracts' Id: no dot, so "." splits


def _sign(secret: bytes, user_id: str, expires: int) -> str:
    mac = hmac.new(secret, f"{PREFIX}.{user_id}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def mint(secret: str, user_id: str, expires: int) -> str:
    """A token for ``user_id`` valid until ``expires`` (unix seconds)."""
    if not _USER.fullmatch(user_id):
        raise ValueError(f"bad user id {user_id!r}: 1-64 of A-Z a-z 0-9 _ -")
    return f"{PREFIX}.{user_id}.{expires}.{_sign(secret.encode(), user_id, expires)}"


def user_of(token: str | None, secret: str | None, now: float) -> str | None:
    """The user a valid, unexpired ``token`` was issued to; None for anything else."""
    if not token or not secret:
        return None
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != PREFIX or not _USER.fullmatch(parts[1]):
        return None
    if not parts[2].isdigit() or int(parts[2]) < now:
        return None
    expected = _sign(secret.encode(), parts[1], int(parts[2]))
    return parts[1] if hmac.compare_digest(expected, parts[3]) else None
