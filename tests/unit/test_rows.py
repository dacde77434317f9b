"""The typed rows (``core/rows.py``) say exactly what the store's schema holds, and what a
world's store really reads back fits them."""

from __future__ import annotations

import types
import typing

import pytest

from rapidata_sim import Clock, Simulator
from rapidata_sim.core.rows import ROW_TYPES
from rapidata_sim.core.store import SCHEMA, B, F, I, J, S

PYTHON = {S: str, I: int, F: float, B: bool}


def _base_types(hint: object) -> set[object]:
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    return {typing.get_origin(a) or a for a in args} - {type(None)}


@pytest.mark.parametrize("table", sorted(ROW_TYPES))
def test_a_row_type_names_every_column_of_its_table_with_its_kind(table):
    hints = typing.get_type_hints(ROW_TYPES[table])
    columns = SCHEMA[table][1]
    assert list(hints) == list(columns), "same columns, in the schema's order"
    for name, kind in columns.items():
        bases = _base_types(hints[name])
        if kind == J:
            assert bases <= {dict, list, typing.Any}, name
        else:
            assert bases == {PYTHON[kind]}, f"{table}.{name}: {hints[name]} for a {kind} column"


def test_rows_a_world_writes_fit_their_types():
    sim = Simulator(seed=5, clock=Clock.frozen())
    try:
        client = sim.client()
        definition = client.job.create_classification_job_definition(
            name="d", instruction="cat?", answer_options=["yes", "no"], datapoints=["a"], data_type="text",
            responses_per_datapoint=2)
        signal = client.signals.create_signal(name="s", audience="global", job_definition=definition,
                                              interval_hours=1)
        sim.advance(hours=3)
        signal.trigger()
        sim.advance(hours=1)
        for table, row_type in ROW_TYPES.items():
            hints = typing.get_type_hints(row_type)
            rows = sim.store.select(table)
            assert rows, table
            for row in rows:
                assert set(row) == set(hints), table
                for name, value in row.items():
                    bases = _base_types(hints[name])
                    if value is None:
                        assert type(None) in typing.get_args(hints[name]) or typing.Any in bases, \
                            f"{table}.{name} is None but typed {hints[name]}"
                    elif typing.Any not in bases:
                        assert isinstance(value, tuple(bases)), f"{table}.{name} = {value!r}, typed {hints[name]}"
    finally:
        sim.close()
