"""``python -m rapidata_sim.cli``: the ``rapidata-sim`` command."""

from .commands import main

raise SystemExit(main())
