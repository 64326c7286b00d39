"""Confusion counts and the challenge score, per alarm type and overall.

Positive = a true (actionable) alarm; a positive that is forwarded is a TP. Unlabelled records
are counted as decided but not scored. Score = (TP + TN) / (TP + TN + FP + 5 FN), the
PhysioNet/CinC 2015 challenge score (Clifford et al. 2015), as a fraction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..events.types import ARRHYTHMIA_ORDER as TYPE_ORDER
from ..events.types import challenge_score
from .runner import Outcome


@dataclass(frozen=True)
class Confusion:
    tp: int = 0
    fn: int = 0
    tn: int = 0
    fp: int = 0
    unlabelled: int = 0
    errors: int = 0
    audit_samples: int = 0

    @property
    def tpr(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def tnr(self) -> float | None:
        return self.tn / (self.tn + self.fp) if self.tn + self.fp else None

    @property
    def score(self) -> float | None:
        """Challenge score.

        >>> Confusion(tp=9, fn=1, tn=5, fp=5).score  # 14 / (14 + 5 + 5)
        0.583333
        """
        score = challenge_score(self.tp, self.fn, self.tn, self.fp)
        return round(score, 6) if score is not None else None

    @property
    def alarms(self) -> int:
        return self.tp + self.fn + self.tn + self.fp + self.unlabelled

    def to_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {
            "alarms": self.alarms, "TP": self.tp, "FN": self.fn, "TN": self.tn, "FP": self.fp,
            "TPR": r(self.tpr), "TNR": r(self.tnr), "score": r(self.score),
            "false_alarms_suppressed_pct": None if self.tnr is None else round(100.0 * self.tnr, 1),
            "true_alarms": self.tp + self.fn, "true_forwarded": self.tp,
            "false_alarms": self.tn + self.fp, "false_suppressed": self.tn,
            "unlabelled": self.unlabelled, "record_errors": self.errors, "audit_samples": self.audit_samples,
        }


def confusion(outcomes: Iterable[Outcome]) -> Confusion:
    tp = fn = tn = fp = unl = err = aud = 0
    for o in outcomes:
        err += o.error is not None
        aud += o.audit_sample
        if o.label is None:
            unl += 1
        elif o.label:
            tp += o.forwarded
            fn += not o.forwarded
        else:
            fp += o.forwarded
            tn += not o.forwarded
    return Confusion(tp, fn, tn, fp, unl, err, aud)


def summarise(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """``{"per_type": {type: counts}, "overall": counts}``; known types first, in a fixed order."""
    types = [t for t in TYPE_ORDER if any(o.alarm_type == t for o in outcomes)]
    types += sorted({o.alarm_type for o in outcomes} - set(types))
    return {
        "per_type": {t: confusion(o for o in outcomes if o.alarm_type == t).to_dict() for t in types},
        "overall": confusion(outcomes).to_dict(),
    }


def format_table(results: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Rows (variant, type, TP, FN, TN, FP, TPR, TNR, score, suppressed %, true forwarded) for a text table."""

    def f(x: float | None, nd: int = 3) -> str:
        return "-" if x is None else f"{x:.{nd}f}"

    rows = []
    for variant, summary in results.items():
        items = [*summary["per_type"].items(), ("overall", summary["overall"])]
        for t, c in items:
            rows.append([variant, t, str(c["TP"]), str(c["FN"]), str(c["TN"]), str(c["FP"]),
                         f(c["TPR"]), f(c["TNR"]), f(c["score"]), f(c["false_alarms_suppressed_pct"], 1),
                         f"{c['TP']}/{c['TP'] + c['FN']}"])
    return rows
