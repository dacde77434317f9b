"""Synthetic audiences: who the labelers are, what they think, how fast they answer.

Plain models with no store and no HTTP in them: ``Population`` (an audience's
crowd and its recruiting funnel), ``Behaviour`` with one model per task type
(``Prefer``, ``Classify``, ``FreeText``), the referees' stopping rules, a job's
``Rate`` over virtual time, and ``JobCrowd``, which draws one job's votes.
``rapidata_sim.domain.job_plans`` binds them to a world.
"""

from .behaviour import BOTH, NEITHER, Behaviour, Classify, FreeText, Prefer
from .labeling import JobCrowd
from .population import Population
from .timeline import Rate

__all__ = ["BOTH", "NEITHER", "Behaviour", "Classify", "FreeText", "JobCrowd", "Population", "Prefer", "Rate"]
