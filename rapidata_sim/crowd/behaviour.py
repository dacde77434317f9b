"""What a crowd thinks: one model per task type (``Prefer``, ``Classify``, ``FreeText``),
set per audience and changeable over time.

Each model answers one vote at a time from the generator it is handed (same seed, same votes),
and is plain data where it can be (dict round-trip for fixtures, scenarios and the store).
Names match what the results file shows for an asset, else as ``fnmatch`` patterns, first
match wins. See ``docs/crowd.md``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import random
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping, Sequence, Union

from .settings import InvalidSettings, bounded, check, parse, weights

Quality = Union[Mapping[str, float], Callable[[str], float], None]
Truth = Union[Mapping[str, Union[str, Mapping[str, float]]], Callable[[str], Union[str, Mapping[str, float], None]], None]

#: Answers of the compare "unsure" button (AllowNeitherBothSetting), as the results show them.
BOTH, NEITHER = "Both", "Neither"


def stable_unit(*parts: object) -> float:
    """A number in [0, 1) that depends only on ``parts`` (not on Python's hash seed)."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def latent_quality(name: str) -> float:
    """The default quality of an asset nobody configured: stable, in [-1.5, 1.5)."""
    return (stable_unit("quality", name) - 0.5) * 3


def lookup(table: Mapping[str, Any] | Callable[[str], Any] | None, *names: str | None) -> Any:
    """The value ``table`` gives the first of ``names`` it knows (exact, then pattern), or None."""
    if table is None:
        return None
    if callable(table):
        return table(next(n for n in names if n is not None))
    for name in names:
        if name is not None and name in table:
            return table[name]
    for pattern, value in table.items():
        if any(n is not None and fnmatch.fnmatchcase(n, pattern) for n in names):
            return value
    return None


@dataclass(frozen=True)
class Prefer:
    """Compare (and Ranking): Bradley–Terry over a latent quality per asset.

    P(A beats B) = 1 / (1 + exp(-strength * (q(A) - q(B)))). With ``quality`` unset
    every asset gets a stable pseudo-random quality; with a mapping, assets it does
    not match get 0. ``noise`` is the share of votes cast at random; ``unsure`` the
    share answered Both/Neither (half each) when the definition allows it.
    """

    quality: Quality = None
    strength: float = 1.0
    noise: float = 0.05
    unsure: float = 0.1

    def __post_init__(self) -> None:
        check({**_probabilities(self, "noise", "unsure"),
               "strength": bounded("strength", [self.strength]),
               "quality": bounded("quality", self.quality.values()) if isinstance(self.quality, Mapping) else []})

    def q(self, *names: str | None) -> float:
        if self.quality is None:
            return latent_quality(next(n for n in names if n is not None))
        value = lookup(self.quality, *names)
        return 0.0 if value is None else float(value)

    def p_first(self, a: Sequence[str | None], b: Sequence[str | None]) -> float:
        """Probability that a labeler who picks one of the two picks ``a`` (before noise)."""
        x = self.strength * (self.q(*a) - self.q(*b))
        return 1 / (1 + math.exp(-max(-700.0, min(700.0, x))))

    def vote(self, rng: random.Random, p_first: float, options: Sequence[str], allow_unsure: bool) -> str:
        if allow_unsure and rng.random() < self.unsure:
            return BOTH if rng.random() < 0.5 else NEITHER
        if rng.random() < self.noise:
            return options[rng.random() < 0.5]
        return options[0] if rng.random() < p_first else options[1]


@dataclass(frozen=True)
class Classify:
    """Classification: a true label (or answer distribution) per datapoint, then noise.

    ``truth`` maps a datapoint (its identifier as the results show it) to a label,
    answered correctly with probability ``accuracy``, or to a distribution that
    votes are drawn from directly. Datapoints it does not cover get a label drawn
    (stably) from ``distribution``, or uniformly from the options. A wrong answer
    is drawn from ``confusion[truth]`` if given, else from ``priors``, else
    uniformly from the other options.
    """

    truth: Truth = None
    distribution: Mapping[str, float] | None = None
    accuracy: float = 0.8
    confusion: Mapping[str, Mapping[str, float]] | None = None
    priors: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        truth = self.truth if isinstance(self.truth, Mapping) else {}
        check({**_probabilities(self, "accuracy"),
               "truth": [m for name, t in truth.items() if isinstance(t, Mapping)
                         for m in weights(f"truth[{name!r}]", t, required=True)][:1],
               "distribution": weights("distribution", self.distribution),
               "priors": weights("priors", self.priors),
               "confusion": [m for label, table in (self.confusion or {}).items()
                             for m in weights(f"confusion[{label!r}]", table)][:1]})

    def answer_distribution(self, seed: object, key: str, names: Sequence[str | None],
                            options: Sequence[str]) -> dict[str, float]:
        """Probability of each option for one vote on this datapoint (the model, in full)."""
        truth = lookup(self.truth, *names)
        if isinstance(truth, Mapping):
            return _normalised({o: float(truth.get(o, 0.0)) for o in options}, options)
        if truth is None or truth not in options:
            weights = _normalised({o: float((self.distribution or {}).get(o, 0.0)) for o in options}
                                  if self.distribution else dict.fromkeys(options, 1.0), options)
            truth = _weighted_pick(weights, stable_unit("truth", seed, key))
        wrong = [o for o in options if o != truth]
        if not wrong:
            return {truth: 1.0}
        table = (self.confusion or {}).get(truth) or self.priors
        wrong_w = _normalised({o: float(table.get(o, 0.0)) for o in wrong} if table else dict.fromkeys(wrong, 1.0),
                              wrong)
        out = {o: (1 - self.accuracy) * wrong_w.get(o, 0.0) for o in options}
        out[truth] = self.accuracy
        return out


@dataclass(frozen=True)
class FreeText:
    """Free text: answers drawn from a list (per datapoint if a mapping), or a callable."""

    answers: Union[Sequence[str], Mapping[str, Sequence[str]], Callable[[str, random.Random], str]] = (
        "Looks good.", "Too dark.", "A cat on a mat.", "Not sure.", "Very clear.", "The colours are off.")

    def answer(self, rng: random.Random, names: Sequence[str | None]) -> str:
        if callable(self.answers):
            return self.answers(next(n for n in names if n is not None), rng)
        pool = lookup(self.answers, *names) if isinstance(self.answers, Mapping) else self.answers
        return rng.choice(list(pool or ["-"]))


@dataclass(frozen=True)
class Behaviour:
    """Everything a crowd thinks, one model per task type."""

    compare: Prefer = field(default_factory=Prefer)
    classify: Classify = field(default_factory=Classify)
    free_text: FreeText = field(default_factory=FreeText)

    def to_dict(self) -> dict[str, Any]:
        """Plain data; raises ``TypeError`` if a model holds a callable."""
        out: dict[str, Any] = {}
        for f in fields(self):
            model = getattr(self, f.name)
            out[f.name] = {}
            for mf in fields(model):
                value = getattr(model, mf.name)
                if callable(value):
                    raise TypeError(f"{f.name}.{mf.name} is a callable; it cannot be stored")
                if value is not None:  # absent means the default (TOML has no null)
                    out[f.name][mf.name] = _plain(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Behaviour":
        """A whole behaviour; kinds not named get their defaults."""
        return cls(**cls.models_from_dict(data))

    @staticmethod
    def models_from_dict(data: Mapping[str, Any] | None) -> dict[str, Any]:
        """Only the models ``data`` names (``{"compare": Prefer(...)}``), checked
        (``InvalidSettings`` names every bad field): what ``Crowd.behave(audience, **models)``
        swaps into the behaviour in effect."""
        if data is not None and not isinstance(data, Mapping):
            raise InvalidSettings({"": [f"must be an object of models, not {type(data).__name__}"]})
        data = dict(data or {})
        kinds = {"compare": Prefer, "classify": Classify, "free_text": FreeText}
        errors: dict[str, list[str]] = {}
        for name in sorted(set(data) - set(kinds)):
            errors[name] = [f"unknown behaviour kind (known: {', '.join(sorted(kinds))})"]
        parts = {}
        for name, model in kinds.items():
            if name in data:
                try:
                    parts[name] = parse(model, data[name])
                except InvalidSettings as exc:
                    errors.update(exc.under(name).errors)
        check(errors)
        if "free_text" in parts and isinstance(parts["free_text"].answers, list):
            parts["free_text"] = FreeText(tuple(parts["free_text"].answers))
        return parts

    def replace(self, **models: Any) -> "Behaviour":
        """This behaviour with some models swapped (``compare=Prefer(...)``)."""
        return Behaviour(**{f.name: models.get(f.name, getattr(self, f.name)) for f in fields(self)})


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _probabilities(obj: object, *names: str) -> dict[str, list[str]]:
    return {name: [] if 0 <= getattr(obj, name) <= 1 else [f"{name} must be between 0 and 1"] for name in names}


def _normalised(weights: dict[str, float], options: Sequence[str]) -> dict[str, float]:
    total = sum(max(0.0, w) for w in weights.values())
    if total <= 0:
        return {o: 1 / len(options) for o in options}
    return {k: max(0.0, w) / total for k, w in weights.items()}


def _weighted_pick(weights: Mapping[str, float], u: float) -> str:
    acc = 0.0
    last = None
    for key, w in weights.items():
        acc += w
        last = key
        if u < acc:
            return key
    assert last is not None
    return last
