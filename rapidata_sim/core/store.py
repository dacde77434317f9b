"""SQLite state of one world, through sqlite-utils: rows as plain dicts with snake_case keys.

One request, one transaction (``Store.transaction()``), so a failed request leaves nothing
half-written. Timestamps are ``clock.iso`` strings (fixed width, UTC): they sort as text, and
none is computed in SQL. Rows of runs, jobs and events may be decided before they are written
(``Store.deferred``, the scheduler's steady stretches); every read through the store writes
them first, and SQL of one's own calls ``flush()`` first. The typed rows are ``core.rows``.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Protocol



def _import_sqlite_utils() -> Any:
    """``sqlite_utils``, without the pandas and numpy it imports at load when they are installed
    (the SDK installs them): 1 s or more of a cold start, for DataFrame support the store never
    uses. If the process already imported them, nothing is saved and nothing is blocked."""
    blocked = [name for name in ("pandas", "numpy") if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import pandas` raise ImportError
    try:
        import sqlite_utils
    finally:
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
    return sqlite_utils


sqlite_utils = _import_sqlite_utils()

S, I, F, B, J = str, int, float, bool, "json"

#: One encoder for every JSON column (``json.dumps`` with options builds a new one per call).
_to_json = json.JSONEncoder(separators=(",", ":")).encode


def _cell(kind: Any, value: Any) -> Any:
    """``value`` as a column of ``kind`` stores it."""
    if value is None:
        return None
    if kind == J:
        return _to_json(value)
    if kind is B:
        return 1 if value else 0
    return value

# table -> (primary key, {column: kind})
SCHEMA: dict[str, tuple[str | tuple[str, ...], dict[str, Any]]] = {
    "organizations": ("id", {"id": S, "name": S, "created_at": S}),
    "users": ("id", {"id": S, "email": S, "organization_id": S, "role": S, "created_at": S}),
    "clients": ("id", {"id": S, "secret": S, "user_id": S, "deleted": B, "created_at": S}),
    "tokens": ("token", {"token": S, "client_id": S, "user_id": S, "expires_at": F}),
    "audiences": ("id", {
        "id": S, "name": S, "description": S, "status": S, "organization_id": S, "owner_id": S,
        "owner_mail": S, "is_public": B, "filters": J, "graduation_rule": J, "created_at": S,
        "qualified_user_count": I, "users_per_state": J, "capacity": S, "labeling_seconds": I,
        "population": J, "recruiting_started_at": S, "ready_at": S, "retrieval_mode": S, "boost_level": S, "distilling_campaign_id": S, "base_audience_id": S,
        "logo": S, "filter": J, "is_distilling": B, "deleted": B,
    }),
    "audience_examples": ("id", {
        "id": S, "audience_id": S, "asset": J, "payload": J, "truth": J, "random_correct_probability": F,
        "explanation": S, "context": S, "context_asset": J, "feature_flags": J, "created_at": S,
    }),
    "datasets": ("id", {"id": S, "name": S, "schema": J, "organization_id": S, "owner_id": S, "created_at": S}),
    "datapoints": ("id", {
        "id": S, "dataset_id": S, "sort_index": I, "group_name": S, "segments": J,
        "private_metadata": J, "created_at": S,
    }),
    "dataset_groups": (("dataset_id", "group_name"), {"dataset_id": S, "group_name": S, "segments": J}),
    "assets": ("file_name", {
        "file_name": S, "original_name": S, "source_url": S, "size": I, "content_type": S,
        "organization_id": S, "created_at": S,
    }),
    "batch_uploads": ("id", {
        "id": S, "correlation_id": S, "organization_id": S, "status": S, "items": J, "created_at": S,
    }),
    "job_definitions": ("id", {
        "id": S, "name": S, "definition_type": S, "owner_id": S, "owner_mail": S, "organization_id": S,
        "is_public": B, "created_at": S, "latest_revision": I, "deleted": B,
    }),
    "revisions": (("definition_id", "revision_number"), {
        "definition_id": S, "revision_number": I, "state": S, "pipeline_id": S, "dataset_id": S,
        "workflow": J, "referee": J, "feature_flags": J, "campaign_feature_flags": J,
        "aggregator_type": S, "validation_set_id": S, "base_revision_number": I, "created_at": S, "created_by_id": S,
        "created_by_mail": S,
    }),
    "jobs": ("id", {
        "id": S, "name": S, "definition_id": S, "revision_number": I, "audience_id": S,
        "pipeline_id": S, "state": S, "is_public": B, "owner_id": S, "owner_mail": S,
        "organization_id": S, "created_at": S, "completed_at": S, "failed_at": S,
        "failure_message": S, "completes_at": S, "plan": J, "preceding_job_id": S,
        "deleted": B,
    }),
    "signals": ("id", {
        "id": S, "name": S, "description": S, "audience_id": S, "job_definition_id": S,
        "revision_number": I, "interval_seconds": I, "next_run_at": S, "last_run_at": S,
        "is_paused": B, "is_public": B, "owner_id": S, "owner_mail": S, "organization_id": S,
        "created_at": S, "pending_triggers": I, "pending_trigger_at": S, "last_job_id": S, "buffered_at": S,
        "deleted": B,
    }),
    "signal_runs": ("id", {
        "id": S, "signal_id": S, "trigger_source": S, "status": S, "started_at": S,
        "audience_job_id": S, "completed_at": S, "result_file_name": S, "failure_message": S,
        "skipped_reason": S,
    }),
    "flows": ("id", {
        "id": S, "kind": S, "name": S, "criteria": S, "blueprint": J, "campaign_id": S, "flow_item_count": I,
        "min_responses": I, "max_responses": I, "starting_elo": I, "audience_id": S, "validation_set_id": S,
        "feature_flags": J, "serve_timeout_seconds": I, "drain_duration_seconds": I, "serve_responses": I,
        "serve_to_response_ratio": F, "target_response_count": I, "owner_id": S, "owner_mail": S,
        "organization_id": S, "created_at": S, "deleted": B,
    }),
    "flow_items": ("id", {
        "id": S, "flow_id": S, "dataset_id": S, "state": S, "context": S, "context_asset": J, "time_to_live": I,
        "created_at": S, "started_at": S, "expires_at": S, "completes_at": S, "completed_at": S, "failed_at": S,
        "failure_message": S, "plan": J, "organization_id": S, "deleted": B,
    }),
    "preliminary_downloads": ("id", {"id": S, "job_id": S, "created_at": S}),
    "validation_sets": ("id", {
        "id": S, "name": S, "organization_id": S, "owner_id": S, "owner_mail": S, "is_public": B,
        "dimensions": J, "should_alert": B, "is_flag_overruled": B, "created_at": S, "deleted": B,
    }),
    "validation_rapids": ("id", {
        "id": S, "validation_set_id": S, "type": S, "asset": J, "payload": J, "truth": J, "context": S,
        "context_asset": J, "random_correct_probability": F, "explanation": S, "feature_flags": J, "created_at": S,
    }),
    "behaviours": ("id", {"id": I, "audience_id": S, "definition_id": S, "from_at": S, "spec": J,
                          "created_at": S}),
    "faults": ("id", {"id": S, "audience_id": S, "fault": J, "remaining": I, "created_at": S}),
    # Benchmarks and leaderboards (domain/benchmarks.py, domain/leaderboards.py).
    "benchmarks": ("id", {"id": S, "name": S, "description": S, "organization_id": S, "owner_id": S,
                          "owner_mail": S, "is_public": B, "min_assets_per_prompt": I, "created_at": S,
                          "last_updated_at": S, "deleted": B}),
    "benchmark_prompts": ("id", {"id": S, "benchmark_id": S, "identifier": S, "segments": J, "tags": J,
                                 "origin": J, "created_at": S, "seq": I}),
    "participants": ("id", {"id": S, "benchmark_id": S, "name": S, "status": S, "cost": F, "cost_unit": S,
                            "dataset_id": S, "created_at": S, "seq": I, "deleted": B}),
    "participant_samples": ("id", {"id": S, "participant_id": S, "benchmark_id": S, "identifier": S,
                                   "prompt_id": S, "asset": J, "asset_key": S, "cost": F, "created_at": S,
                                   "seq": I}),
    "leaderboards": ("id", {"id": S, "benchmark_id": S, "name": S, "instruction": S, "display_instruction": S,
                            "show_prompt": B, "show_prompt_asset": B, "is_inversed": B, "response_budget": I,
                            "min_responses": I, "audience_id": S, "vote_aggregation": S, "included_tags": J,
                            "excluded_tags": J, "feature_flags": J, "organization_id": S, "created_at": S,
                            "last_updated_at": S, "seq": I, "deleted": B}),
    "leaderboard_runs": ("id", {"id": S, "leaderboard_id": S, "benchmark_id": S, "name": S, "audience_id": S,
                                "participant_ids": J, "matchups": J, "behaviour": I, "created_at": S,
                                "completes_at": S, "owner_mail": S, "organization_id": S}),
    "events": ("seq", {"seq": I, "at": S, "kind": S, "subject": S, "data": J}),
    "meta": ("key", {"key": S, "value": S}),
}

#: Tables whose integer key SQLite assigns (the insert leaves it out and reads it back).
#: (Events get theirs from the store: ``reserve_seqs``.)
AUTO_KEYS = {"behaviours": "id"}

#: Tables whose rows may be decided before they are written (``Store.deferred``): reading or
#: changing one writes the deferred rows first, so nobody ever sees them missing.
DEFERRABLE = frozenset({"jobs", "signal_runs", "events"})


class Deferred(Protocol):
    """Rows decided but not written yet (the scheduler's ledger of steady stretches)."""

    def pending(self) -> bool: ...

    def write(self, store: "Store") -> None:
        """Write every deferred row (inside the caller's transaction) and let go of them."""

    def last_seq(self) -> int:
        """The highest event sequence number the deferred rows hold (0: none)."""

    def committed(self) -> None: ...

    def rolled_back(self) -> None:
        """Forget rows decided in the transaction; take back rows written in it."""

INDEXES = [
    ("behaviours", ["audience_id", "from_at"]),
    ("datapoints", ["dataset_id"]),
    ("audience_examples", ["audience_id"]),
    ("jobs", ["organization_id"]),
    ("jobs", ["state", "completes_at"]),
    ("signals", ["organization_id"]),
    ("signals", ["deleted", "is_paused", "next_run_at"]),
    ("signals", ["pending_triggers"]),
    ("signal_runs", ["signal_id", "started_at"]),
    ("signal_runs", ["audience_job_id"]),
    ("batch_uploads", ["correlation_id"]),
    ("benchmark_prompts", ["benchmark_id", "identifier"]),
    ("participants", ["benchmark_id"]),
    ("participant_samples", ["participant_id"]),
    ("leaderboard_runs", ["leaderboard_id"]),
    ("leaderboard_runs", ["benchmark_id"]),
    ("validation_sets", ["organization_id"]),
    ("validation_rapids", ["validation_set_id"]),
    # The dashboard and counters count a signal's missed firings on every poll.
    ("events", ["kind", "subject"]),
]


class Store:
    """The persistent state of one world. Thread-safe; one writer at a time."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        self.db = sqlite_utils.Database(self.conn)
        self._lock = threading.RLock()
        self._depth = 0
        #: The thread inside the outermost transaction, if any: its writes need no new one.
        self._owner: int | None = None
        #: Called after a rollback, for in-memory state derived from rows (the scheduler's queue).
        self.on_rollback: list[Callable[[], None]] = []
        #: Called after a commit.
        self.on_commit: list[Callable[[], None]] = []
        #: Rows decided but not yet written; written before anyone reads their tables, and at
        #: every commit of a store on disk (an acknowledged write is a written one).
        self.deferred: Deferred | None = None
        self._next_seq: int | None = None
        self._kinds = {table: cols for table, (_, cols) in SCHEMA.items()}
        self._pks = {table: pk for table, (pk, _) in SCHEMA.items()}
        self._insert_cache: dict[str, tuple[str, list[tuple[str, Any]]]] = {}
        self._create_schema()

    def _create_schema(self) -> None:
        existing = set(self.db.table_names())
        for table, (pk, cols) in SCHEMA.items():
            if table in existing:
                # A store written by an older version: add the columns it lacks (all nullable).
                have = set(self.db[table].columns_dict)
                for name, kind in cols.items():
                    if name not in have:
                        self.db[table].add_column(name, str if kind == J else int if kind is B else kind)
                continue
            types = {name: (str if kind == J else int if kind is B else kind) for name, kind in cols.items()}
            self.db[table].create(types, pk=pk)
        for table, columns in INDEXES:
            self.db[table].create_index(columns, if_not_exists=True)

    # -- transactions -------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator["Store"]:
        """All-or-nothing: nested calls join the outer transaction."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self.conn.execute("BEGIN IMMEDIATE")
                self._owner = threading.get_ident()
            self._depth += 1
            try:
                yield self
                if outer and self.path != ":memory:":
                    self.flush()
            except BaseException:
                self._depth -= 1
                if outer:
                    self._owner = None
                    self.conn.execute("ROLLBACK")
                    self._next_seq = None
                    if self.deferred is not None:
                        self.deferred.rolled_back()
                    for hook in self.on_rollback:
                        hook()
                raise
            else:
                self._depth -= 1
                if outer:
                    self._owner = None
                    self.conn.execute("COMMIT")
                    if self.deferred is not None:
                        self.deferred.committed()
                    for hook in self.on_commit:
                        hook()

    def flush(self) -> None:
        """Write the deferred rows now (before reading their tables with SQL of one's own)."""
        deferred = self.deferred
        if deferred is not None and deferred.pending():
            with self.transaction():
                deferred.write(self)

    def reserve_seqs(self, count: int) -> int:
        """The first of ``count`` event sequence numbers, taken (call inside a transaction)."""
        first = self.last_seq() + 1
        self._next_seq = first + count
        return first

    def last_seq(self) -> int:
        """The newest event's sequence number, written or deferred (0: none yet)."""
        with self._lock:
            if self._next_seq is None:
                top = self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
                self._next_seq = max(top, self.deferred.last_seq() if self.deferred else 0) + 1
            return self._next_seq - 1

    def in_transaction(self) -> bool:
        """Is the calling thread inside a transaction of this store?"""
        return self._owner == threading.get_ident()

    def _write(self, sql: str, params: list[Any]) -> sqlite3.Cursor:
        """Execute one write: inside the caller's transaction if this thread holds one
        (the scheduler's hot path: no lock or context manager per row), else in its own."""
        if self._owner == threading.get_ident():
            return self.conn.execute(sql, params)
        with self.transaction():
            return self.conn.execute(sql, params)

    # -- row codec ----------------------------------------------------------------

    def _encode(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        kinds = self._kinds[table]
        return {key: _cell(kinds[key], value) for key, value in row.items()}  # KeyError: an unknown column

    def _decode(self, table: str, row: sqlite3.Row | tuple, names: list[str]) -> dict[str, Any]:
        kinds = self._kinds[table]
        out = {}
        for name, value in zip(names, row):
            kind = kinds.get(name)
            if value is not None:
                if kind == J:
                    value = json.loads(value)
                elif kind is B:
                    value = bool(value)
            out[name] = value
        return out

    # -- CRUD ---------------------------------------------------------------------

    def _insert_sql(self, table: str) -> tuple[str, list[tuple[str, Any]]]:
        cached = self._insert_cache.get(table)
        if cached is None:
            cols = [(c, k) for c, k in self._kinds[table].items() if c != AUTO_KEYS.get(table)]
            names = ", ".join(f"[{c}]" for c, _ in cols)
            sql = f"INSERT INTO [{table}] ({names}) VALUES ({', '.join('?' * len(cols))})"
            cached = self._insert_cache[table] = (sql, cols)
        return cached

    def insert(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        kinds = self._kinds[table]
        unknown = row.keys() - kinds.keys()
        if unknown:
            raise KeyError(f"{table} has no column(s) {sorted(unknown)}")
        if table in DEFERRABLE:
            if table == "events":
                return self._insert_event(row)
            self.flush()
        full = dict.fromkeys(kinds)
        full.update(row)
        cur = self._write(self._insert_sql(table)[0], self.encode(table, full))
        if table in AUTO_KEYS:
            full[AUTO_KEYS[table]] = cur.lastrowid
        return full

    def columns(self, table: str) -> list[str]:
        """The columns ``encode`` gives values for, in order."""
        return [c for c, _ in self._insert_sql(table)[1]]

    def encode(self, table: str, row: dict[str, Any]) -> list[Any]:
        """``row`` as ``insert`` writes it: one value per column of ``columns(table)``."""
        return [_cell(k, row.get(c)) for c, k in self._insert_sql(table)[1]]

    def insert_encoded(self, table: str, rows: list[list[Any]]) -> None:
        """Write rows already encoded (``encode``), in order, in one statement: for rows decided
        earlier (nothing is flushed first, and events carry their own ``seq``)."""
        with self.transaction():
            self.conn.executemany(self._insert_sql(table)[0], rows)

    def _insert_event(self, row: dict[str, Any]) -> dict[str, Any]:
        if self._owner != threading.get_ident():
            with self.transaction():
                return self._insert_event(row)
        full = {"seq": self.reserve_seqs(1), "at": row.get("at"), "kind": row.get("kind"),
                "subject": row.get("subject"), "data": row.get("data")}
        self.conn.execute(self._insert_sql("events")[0], self.encode("events", full))
        return full

    def _key_where(self, table: str, key: Any) -> tuple[str, list[Any]]:
        pk = self._pks[table]
        if isinstance(pk, tuple):
            return " AND ".join(f"[{c}] = ?" for c in pk), list(key)
        return f"[{pk}] = ?", [key]

    def get(self, table: str, key: Any, *, flush: bool = True) -> dict[str, Any] | None:
        """One row by key. ``flush=False``: only rows already written (for a caller that
        knows the row is not a deferred one)."""
        where, params = self._key_where(table, key)
        rows = self.select(table, where, params, limit=1, flush=flush)
        return rows[0] if rows else None

    def update(self, table: str, key: Any, changes: dict[str, Any]) -> None:
        if not changes:
            return
        if table in DEFERRABLE:
            self.flush()
        encoded = self._encode(table, changes)
        where, params = self._key_where(table, key)
        sets = ", ".join(f"[{c}] = ?" for c in encoded)
        self._write(f"UPDATE [{table}] SET {sets} WHERE {where}", list(encoded.values()) + params)

    def select(
        self,
        table: str,
        where: str = "1",
        params: list[Any] | None = None,
        *,
        order_by: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        flush: bool = True,
    ) -> list[dict[str, Any]]:
        if flush and table in DEFERRABLE:
            self.flush()
        sql = f"SELECT * FROM [{table}] WHERE {where}"
        if order_by:
            sql += f" ORDER BY {order_by}"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        with self._lock:
            cur = self.conn.execute(sql, params or [])
            names = [d[0] for d in cur.description]
            return [self._decode(table, row, names) for row in cur.fetchall()]

    def count(self, table: str, where: str = "1", params: list[Any] | None = None) -> int:
        if table in DEFERRABLE:
            self.flush()
        with self._lock:
            return self.conn.execute(f"SELECT COUNT(*) FROM [{table}] WHERE {where}", params or []).fetchone()[0]

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every table, for tests that check nothing changed."""
        return {table: self.select(table, order_by="rowid") for table in SCHEMA}
