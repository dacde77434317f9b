"""Scenario files (``docs/scenarios.md``): the format (``format``), running them through the real
SDK (``runner``), what hooks get (``context``), the story (``narration``), the expectations
(``checks``), and where they run: in process or in a scratch world of a server (``backends``).

Hooks (``call = "module:function"``) get a ``rapidata_sim.scenario.Context`` and read the world
through ``ctx.world``, a ``rapidata_sim.scenario.WorldView``.
"""

from .backends import WorldView
from .context import Context
from .format import Scenario, ScenarioError
from .runner import run

__all__ = ["Context", "Scenario", "ScenarioError", "WorldView", "run"]
