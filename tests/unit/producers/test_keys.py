"""The gateway's key store: hashes only, verify, revoke, and a second process's view."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from producers.gateway.keys import KeyStore, KeyStoreError, ScryptParams

pytestmark = pytest.mark.unit

FAST = ScryptParams(n=16, r=1, p=1)  # the real cost is ~50 ms per hash


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "api-keys.json"


def test_create_returns_a_key_that_verifies_and_stores_only_a_salted_hash(path: Path) -> None:
    store = KeyStore(path, params=FAST)
    key = store.create("storefront")

    record = store.verify(key)
    assert record is not None and record.name == "storefront" and record.active
    text = path.read_text()
    secret = key.split("_", 2)[2]
    assert secret not in text and key not in text
    entry = json.loads(text)["keys"][0]
    assert entry["kdf"] == {"name": "sha256"} and len(bytes.fromhex(entry["salt"])) == 16
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_two_keys_get_different_salts(path: Path) -> None:
    store = KeyStore(path, params=FAST)
    store.create("a")
    store.create("b")
    salts = {e["salt"] for e in json.loads(path.read_text())["keys"]}
    assert len(salts) == 2


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # wrong secret, right id
        lambda k: "rbk_000000000000_" + k.split("_", 2)[2],  # unknown id
        lambda k: k.replace("rbk_", "xyz_"),  # wrong prefix
        lambda k: "",
        lambda k: "not-a-key",
    ],
)
def test_wrong_keys_do_not_verify(path: Path, mangle: object) -> None:
    store = KeyStore(path, params=FAST)
    key = store.create("storefront")
    assert callable(mangle)
    assert store.verify(mangle(key)) is None


def test_revoked_key_no_longer_verifies_even_if_it_was_cached(path: Path) -> None:
    store = KeyStore(path, params=FAST)
    key = store.create("storefront")
    assert store.verify(key) is not None
    assert store.cached(key) is not None

    revoked = store.revoke("storefront")

    assert revoked.revoked_at is not None
    assert store.verify(key) is None and store.cached(key) is None
    assert [r.active for r in store.list()] == [False]


def test_a_revocation_by_another_process_is_seen_on_the_next_check(path: Path) -> None:
    gateway_view = KeyStore(path, params=FAST)
    key = KeyStore(path, params=FAST).create("storefront")
    assert gateway_view.verify(key) is not None
    assert gateway_view.cached(key) is not None

    KeyStore(path, params=FAST).revoke("storefront")  # e.g. `riverbed gateway keys revoke`

    assert gateway_view.cached(key) is None
    assert gateway_view.verify(key) is None


def test_cached_only_answers_for_the_exact_key_verified(path: Path) -> None:
    store = KeyStore(path, params=FAST)
    key = store.create("storefront")
    assert store.cached(key) is None  # never verified: the caller must run verify
    store.verify(key)
    assert store.cached(key[:-1] + "x") is None


def test_names_are_checked_and_unique_among_active_keys(path: Path) -> None:
    store = KeyStore(path, params=FAST)
    store.create("storefront")
    with pytest.raises(KeyStoreError, match="exists"):
        store.create("storefront")
    for bad in ("", "has space", "bootstrap", "x" * 49, "-lead"):
        with pytest.raises(KeyStoreError, match="bad key name"):
            store.create(bad)
    store.revoke("storefront")
    store.create("storefront")  # a revoked name may be reused
    assert [r.active for r in store.list()] == [False, True]


def test_revoking_an_unknown_name_is_an_error(path: Path) -> None:
    with pytest.raises(KeyStoreError, match="no active key"):
        KeyStore(path, params=FAST).revoke("nobody")


def test_a_missing_file_is_an_empty_store(path: Path) -> None:
    store = KeyStore(path, params=FAST)
    assert store.list() == []
    assert store.verify("rbk_0123456789ab_secret") is None


# -- scopes ---------------------------------------------------------------------------


def test_a_keys_types_are_stored_checked_and_kept_through_revocation(path: Path) -> None:
    store = KeyStore(path, params=FAST)
    key = store.create("shop", types=["order.*", "stock.received"])
    record = store.verify(key)
    assert record is not None and record.scopes == ("order.*", "stock.received")
    assert record.allows("order.cancelled") and record.allows("stock.received")
    assert not record.allows("stock.low") and not record.allows("playback.started")
    document = json.loads(path.read_text())
    assert document["version"] == 3
    assert document["keys"][0]["scopes"] == ["order.*", "stock.received"]

    assert KeyStore(path, params=FAST).revoke("shop").scopes == ("order.*", "stock.received")
    assert KeyStore(path, params=FAST).list()[0].scopes == ("order.*", "stock.received")


def test_a_bad_or_unknown_pattern_refuses_the_key_and_writes_nothing(path: Path) -> None:
    store = KeyStore(path, params=FAST)
    with pytest.raises(KeyStoreError, match="matches no known event type"):
        store.create("shop", types=["ordr.*"])
    with pytest.raises(KeyStoreError, match="bad type pattern"):
        store.create("shop", types=["order*"])
    with pytest.raises(KeyStoreError, match="at least one"):
        store.create("shop", types=[])
    assert not path.exists()


def test_keys_of_a_file_from_before_scopes_may_publish_every_type_and_stay_unscoped(
    path: Path,
) -> None:
    store = KeyStore(path, params=FAST)
    old_key = store.create("old")
    document = json.loads(path.read_text())
    del document["keys"][0]["scopes"]
    path.write_text(json.dumps({**document, "version": 1}))

    reader = KeyStore(path, params=FAST)
    record = reader.verify(old_key)
    assert record is not None and record.scopes is None and record.types == ("*",)
    assert record.allows("order.placed") and record.allows("playback.completed")

    reader.create("new", types=["order.placed"])  # rewrites the file as version 2
    entries = {e["name"]: e for e in json.loads(path.read_text())["keys"]}
    assert entries["old"]["scopes"] is None  # still marked legacy, not silently "*"
    assert entries["new"]["scopes"] == ["order.placed"]
    assert KeyStore(path, params=FAST).verify(old_key) is not None


def test_a_file_with_malformed_scopes_is_refused(path: Path) -> None:
    KeyStore(path, params=FAST).create("shop", types=["order.*"])
    document = json.loads(path.read_text())
    document["keys"][0]["scopes"] = "order.*"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="scopes must be a list"):
        KeyStore(path, params=FAST).list()
