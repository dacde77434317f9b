"""rapidata-sim: a local simulator and fake server for the Rapidata labeling API."""

from .core.clock import Clock
from .core.errors import Conflict, Forbidden, NotFound, SimError, Unauthorized, ValidationFailed
from .scheduling.policies import SchedulerConfig
from .simulator import SimConfig, Simulator

__all__ = ["Simulator", "SimConfig", "SchedulerConfig", "Clock", "SimError", "NotFound", "ValidationFailed",
           "Conflict", "Forbidden", "Unauthorized"]
__version__ = "0.1.0"
