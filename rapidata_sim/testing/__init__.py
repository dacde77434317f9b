"""Driving a world from tests: the pytest plugin, Hypothesis strategies, builders, auto-advance,
the virtual process clock, and keeping the real SDK offline.

Kept empty of imports: pytest loads ``testing.pytest_plugin`` in every session of a project
that has rapidata-sim installed.
"""
