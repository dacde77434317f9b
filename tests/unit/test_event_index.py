"""The event log is indexed on what is queried of it: the counters and the dashboard count a
signal's missed firings (``kind``, ``subject``) on every poll, which scanned the whole log before
(issue 16: 55 s for a dashboard of 300 signals)."""

from __future__ import annotations

from rapidata_sim.core.store import Store

MISSED = "SELECT COUNT(*) FROM events WHERE kind = 'signal.missed' AND subject = ?"


def plan(store: Store) -> str:
    return " | ".join(row[-1] for row in store.conn.execute("EXPLAIN QUERY PLAN " + MISSED, ["sig_x"]))


def test_counting_missed_firings_uses_an_index():
    store = Store()
    assert "USING COVERING INDEX" in plan(store) or "USING INDEX" in plan(store), plan(store)
    assert "SCAN events" not in plan(store)


def test_a_store_written_before_the_index_gets_it_when_opened(tmp_path):
    path = str(tmp_path / "old.sqlite3")
    store = Store(path)
    for (name,) in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'"):
        if not name.startswith("sqlite_"):
            store.conn.execute(f"DROP INDEX [{name}]")
    assert "SCAN events" in plan(store)  # as an older version left it
    store.conn.close()
    assert "SCAN events" not in plan(Store(path))
