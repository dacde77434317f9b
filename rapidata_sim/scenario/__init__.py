"""Scenario files: the format, running them through the real SDK, narration and checks
(``runner``), and where they run: in process or in a scratch world of a server (``backends``).

Hooks (``call = "module:function"``) get a ``rapidata_sim.scenario.Context`` and read the world
through ``ctx.world``, a ``rapidata_sim.scenario.WorldView``.
"""

from .backends import WorldView
from .runner import Context, Scenario, ScenarioError, run

__all__ = ["Context", "Scenario", "ScenarioError", "WorldView", "run"]
