"""Running estimates of what the filter gets wrong, from the labels clinicians give.

Clinicians label only alarms they see, so suppressed alarms are never labelled
(label censoring). The audit samples are a uniform random share of the
would-be-suppressed alarms that were forwarded anyway: the true share among their
labels estimates the true share among the suppressed ones (a ratio, i.e. Hájek,
inverse-propensity estimate with a constant propensity). The labelled forwarded
alarms estimate the true share of the forwarded ones. Both shares are ratios of
labelled alarms, so missing labels do not bias them if labels go missing at random.

This is the driver's own running estimate (estimator="audit_ratio"); the learning
work's inverse-propensity estimator sets its figure through
`DriverMetrics.set_audit_estimate`, under its own estimator name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; sane at 0 and n, unlike the Wald one.

    >>> [round(x, 3) for x in wilson_interval(0, 20)]
    [0.0, 0.161]
    >>> [round(x, 3) for x in wilson_interval(5, 10)]
    [0.237, 0.763]
    """
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class AuditCounts:
    """Cumulative counts of one driver's audited population and its labels.

    Only non-lethal physiological alarm types count: lethal types are never audit-sampled and
    technical alarms are always forwarded, so the audit says nothing about them.
    """

    suppressed: int = 0
    audit_sampled: int = 0
    forwarded: int = 0  # forwarded, not as an audit sample
    audit_true: int = 0
    audit_false: int = 0
    forwarded_true: int = 0
    forwarded_false: int = 0

    def _missed(self, p_true_suppressed: float) -> float | None:
        labelled_fwd = self.forwarded_true + self.forwarded_false
        if self.forwarded and not labelled_fwd:
            return None
        q_true = self.forwarded_true / labelled_fwd if labelled_fwd else 0.0
        missed = p_true_suppressed * self.suppressed
        total_true = missed + p_true_suppressed * self.audit_sampled + q_true * self.forwarded
        return missed / total_true if total_true > 0 else None

    def missed_true_ratio(self) -> tuple[float, float, float] | None:
        """Estimated share of true alarms suppressed, with a 95 % interval; None while unknown.

        Nothing suppressed means nothing missed (exactly 0). Otherwise the audit labels
        are needed; the interval comes from the Wilson interval of their true share
        (the ratio rises with it), ignoring the smaller error of the forwarded share.

        >>> AuditCounts(suppressed=0, forwarded=10, forwarded_true=2, forwarded_false=3).missed_true_ratio()
        (0.0, 0.0, 0.0)
        >>> c = AuditCounts(suppressed=90, audit_sampled=10, forwarded=100,
        ...                 audit_true=1, audit_false=9, forwarded_true=40, forwarded_false=40)
        >>> [round(x, 3) for x in c.missed_true_ratio()]
        [0.15, 0.031, 0.402]
        """
        if self.suppressed == 0:
            return (0.0, 0.0, 0.0) if self.forwarded or self.audit_sampled else None
        n = self.audit_true + self.audit_false
        if n == 0:
            return None
        lo_p, hi_p = wilson_interval(self.audit_true, n)
        point = self._missed(self.audit_true / n)
        lower, upper = self._missed(lo_p), self._missed(hi_p)
        if point is None:
            return None
        return point, lower if lower is not None else 0.0, upper if upper is not None else 1.0

    def false_alarm_suppression_ratio(self) -> float | None:
        """Estimated share of false alarms that were suppressed; None while unknown.

        >>> c = AuditCounts(suppressed=90, audit_sampled=10, forwarded=100, audit_true=1, audit_false=9,
        ...                 forwarded_true=40, forwarded_false=40)
        >>> round(c.false_alarm_suppression_ratio(), 3)  # 81 of an estimated 81 + 9 + 50 false alarms
        0.579
        """
        labelled_fwd = self.forwarded_true + self.forwarded_false
        n_audit = self.audit_true + self.audit_false
        if (self.forwarded and not labelled_fwd) or (self.suppressed and not n_audit):
            return None
        p_false = self.audit_false / n_audit if n_audit else 0.0
        q_false = self.forwarded_false / labelled_fwd if labelled_fwd else 0.0
        suppressed_false = p_false * self.suppressed
        total_false = suppressed_false + p_false * self.audit_sampled + q_false * self.forwarded
        return suppressed_false / total_false if total_false > 0 else None
