"""Loading migration files and deciding what is pending: pure logic, no database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from riverbed.commands.migrate import _scrub
from stores.postgres import Migration, MigrationError, load_migrations
from stores.postgres.migrate import lock_key, pending

pytestmark = pytest.mark.unit


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


def test_files_load_in_version_order(tmp_path: Path) -> None:
    write(
        tmp_path, {"0010_later.sql": "select 10;", "0002_first.sql": "select 2;", "notes.md": "x"}
    )
    migrations = load_migrations(tmp_path)
    assert [(m.version, m.name, m.filename) for m in migrations] == [
        (2, "first", "0002_first.sql"),
        (10, "later", "0010_later.sql"),
    ]


@pytest.mark.parametrize("name", ["001_short.sql", "0001-dash.sql", "0001_Upper.sql", "core.sql"])
def test_a_misnamed_sql_file_is_an_error_not_skipped(tmp_path: Path, name: str) -> None:
    write(tmp_path, {name: "select 1;"})
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        load_migrations(tmp_path)


def test_a_version_used_twice_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"0001_a.sql": "select 1;", "0001_b.sql": "select 1;"})
    with pytest.raises(MigrationError, match=r"version 0001 is already used by 0001_a\.sql"):
        load_migrations(tmp_path)


@pytest.mark.parametrize("opening", ["BEGIN;", "begin transaction;", "  start transaction;"])
def test_a_file_with_its_own_transaction_is_refused(tmp_path: Path, opening: str) -> None:
    write(tmp_path, {"0001_tx.sql": f"{opening}\ncreate table t (id int);\ncommit;\n"})
    with pytest.raises(MigrationError, match="remove BEGIN/COMMIT"):
        load_migrations(tmp_path)


def test_plpgsql_blocks_are_not_mistaken_for_transactions(tmp_path: Path) -> None:
    body = "do $$\nbegin\n  perform 1;\nend;\n$$;\n"
    write(tmp_path, {"0001_block.sql": body})
    assert load_migrations(tmp_path)[0].sql == body


def test_checksum_ignores_line_endings_but_not_content() -> None:
    unix = Migration(1, "core", "create table t (id int);\n")
    windows = Migration(1, "core", "create table t (id int);\r\n")
    edited = Migration(1, "core", "create table t (id bigint);\n")
    assert unix.checksum == windows.checksum
    assert unix.checksum != edited.checksum
    assert re.fullmatch(r"[0-9a-f]{64}", unix.checksum)


def test_pending_skips_applied_versions() -> None:
    one, two = Migration(1, "a", "select 1;"), Migration(2, "b", "select 2;")
    assert pending([one, two], {}) == [one, two]
    assert pending([one, two], {1: one.checksum}) == [two]
    assert pending([one, two], {1: one.checksum, 2: two.checksum}) == []


def test_pending_refuses_an_applied_migration_that_changed() -> None:
    one = Migration(1, "core", "select 1;")
    with pytest.raises(MigrationError, match=r"0001_core.sql was changed after it was applied"):
        pending([one], {1: "0" * 64}, schema="public")


def test_lock_key_is_a_stable_bigint_per_schema() -> None:
    assert lock_key("public") == lock_key("public")
    assert lock_key("public") != lock_key("test_abc")
    assert -(2**63) <= lock_key("public") < 2**63


def test_shipped_migrations_are_contiguous_and_name_no_schema() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    for migration in migrations:
        # The runner sets search_path; a hard-coded schema would escape a test's schema.
        assert not re.search(r"\bpublic\.", migration.sql, re.IGNORECASE), migration.filename


def test_scrub_removes_passwords_of_both_dsns() -> None:
    owner = "postgresql://owner:s%40cret@db:5432/riverbed"
    app = "postgresql://app:other@db:5432/riverbed"
    message = _scrub("failed for s%40cret, s@cret and other", owner, app)
    assert message == "failed for ***, *** and ***"
