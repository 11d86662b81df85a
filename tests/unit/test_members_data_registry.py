"""Every column of the schema that names a member is in the members' data registry: the export and the
deletion of an account decided what happens to it (rooms/members_data/registry.py, docs/privacy.md)."""

from __future__ import annotations

import realtime.services  # noqa: F401  (every feature's tables join the metadata when its services load)
from rooms.members_data.registry import HOLDINGS, Erasure
from rooms.store.schema import metadata


def _member_columns() -> set[tuple[str, str]]:
    return {(table.name, column.name) for table in metadata.tables.values() for column in table.columns
            for key in column.foreign_keys if key.column.table.name == "members"}


def test_every_column_naming_a_member_has_a_decision():
    declared = {(h.table, h.column) for h in HOLDINGS}
    missing = _member_columns() - declared
    assert not missing, f"add these to rooms/members_data/registry.py (and docs/privacy.md): {sorted(missing)}"
    assert not declared - _member_columns(), "the registry names columns the schema no longer has"
    assert len(declared) == len(HOLDINGS), "a column is declared twice"


def test_what_is_exported_hides_secrets_and_what_is_kept_says_why():
    for holding in HOLDINGS:
        assert holding.why, holding
        table = metadata.tables[holding.table]
        assert set(holding.hidden) <= set(table.c.keys()), holding
        if holding.erasure is Erasure.FORGET:
            assert table.c[holding.column].nullable, holding
        assert set(holding.clear) <= set(table.c.keys()), holding
    assert next(h for h in HOLDINGS if h.table == "auth_tokens").hidden == ("token_hash",)
