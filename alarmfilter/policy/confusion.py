"""Decisions against labels: the one place TP, FN, TN and FP are counted.

Positive = a true (actionable) alarm; a positive that is forwarded is a TP, a false alarm that is
suppressed a TN. The evaluator, the model's cross-validation, the feedback experiment and the demo
all count through `Confusion.of`, and score through `events.types.challenge_score`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from alarmfilter.events.types import challenge_score


@dataclass(frozen=True)
class Confusion:
    """Counts of one group of decided alarms; `unlabelled` ones are decided but not scored.

    >>> c = Confusion.of([(True, True), (True, False), (False, False), (False, True), (None, True)])
    >>> (c.tp, c.fn, c.tn, c.fp, c.unlabelled), c.tpr, c.tnr
    ((1, 1, 1, 1, 1), 0.5, 0.5)
    >>> Confusion(tp=9, fn=1, tn=5, fp=5).score  # 14 / (14 + 5 + 5)
    0.5833333333333334
    """

    tp: int = 0
    fn: int = 0
    tn: int = 0
    fp: int = 0
    unlabelled: int = 0

    @classmethod
    def of(cls, decided: Iterable[tuple[bool | None, bool]]) -> Confusion:
        """From ``(actionable, forwarded)`` pairs; ``actionable`` None = no label."""
        tp = fn = tn = fp = unl = 0
        for actionable, forwarded in decided:
            if actionable is None:
                unl += 1
            elif actionable:
                tp += bool(forwarded)
                fn += not forwarded
            else:
                fp += bool(forwarded)
                tn += not forwarded
        return cls(tp, fn, tn, fp, unl)

    @property
    def true_alarms(self) -> int:
        return self.tp + self.fn

    @property
    def false_alarms(self) -> int:
        return self.tn + self.fp

    @property
    def tpr(self) -> float | None:
        """Sensitivity: true alarms forwarded; None without a true alarm."""
        return self.tp / self.true_alarms if self.true_alarms else None

    @property
    def tnr(self) -> float | None:
        """Specificity: false alarms suppressed; None without a false alarm."""
        return self.tn / self.false_alarms if self.false_alarms else None

    @property
    def score(self) -> float | None:
        """The challenge score as a fraction; None without a labelled alarm."""
        return challenge_score(self.tp, self.fn, self.tn, self.fp)
