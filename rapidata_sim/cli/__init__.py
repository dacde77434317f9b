"""The ``rapidata-sim`` command: serve, env, demo, run (``commands``), the control commands
(``control``) and the demo's story (``demo``). ``python -m rapidata_sim.cli`` runs it too."""

from .commands import build_parser, main

__all__ = ["build_parser", "main"]
