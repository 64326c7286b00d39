"""Running estimates of what the filter gets wrong, from the labels clinicians give.

Clinicians label only alarms they see, so suppressed alarms are never labelled
(label censoring). The audit samples are a uniform random share of the
would-be-suppressed alarms that were forwarded anyway: the true share among their
labels estimates the true share among the suppressed ones (a ratio, i.e. Hájek,
inverse-propensity estimate with a constant propensity). The labelled forwarded
alarms estimate the true share of the forwarded ones. Both shares are ratios of
labelled alarms, so missing labels do not bias them if labels go missing at random.

`FeedbackJoin` is the driver's ledger behind this running estimate (estimator="audit_ratio",
exported by `metrics.DriverMetrics`): it remembers the recent decisions, joins each clinician
label to the decision it labels, and keeps the `AuditCounts`.  The engines' own
inverse-propensity estimate is `policy.audit.estimate_from_stats`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from alarmfilter.events.outputs import DecisionRecord
from alarmfilter.events.types import AlarmType, Decision
from alarmfilter.events.wire import Feedback
from alarmfilter.policy.audit import wilson_interval

#: Decisions remembered to join late feedback with (about 100 B each).
MAX_REMEMBERED_DECISIONS = 100_000


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
        lo_p, hi_p = wilson_interval(self.audit_true / n, n)
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


@dataclass(frozen=True, slots=True)
class JoinedDecision:
    """What a later label needs of the decision it labels."""

    alarm_type: str
    priority: str
    decision: str
    audit_sample: bool
    auditable: bool  # counts toward the audit estimates (non-lethal physiological types)
    alarm_ts: float


class FeedbackJoin:
    """The recent decisions of a driver (bounded), each clinician label joined to its decision.

    >>> from alarmfilter.events.outputs import DecisionRecord
    >>> join = FeedbackJoin()
    >>> d = join.decided(DecisionRecord(alarm_id="a1", bed="B1", type="spo2_low", priority="medium",
    ...     alarm_ts=1764150300.0, decision="suppress", score=0.1, reason_code="evidence_against", reasons=["x"],
    ...     decided_ts=1764150300.0, model_version="m"))
    >>> join.counts.suppressed, join.labelled(Feedback(schema_version=1, kind="feedback", bed="B1", ts=1764150340.0,
    ...     alarm_id="a1", actionable=True)) == d
    (1, True)
    """

    def __init__(self, max_remembered: int = MAX_REMEMBERED_DECISIONS) -> None:
        self.max_remembered = max_remembered
        self.counts = AuditCounts()
        self._seen: OrderedDict[tuple[str, str], JoinedDecision] = OrderedDict()  # (bed, alarm id): ids are per monitor

    def decided(self, d: DecisionRecord) -> JoinedDecision:
        """Remember a decision; count it in the audited population when its type is audited."""
        known = AlarmType.parse(d.type)
        auditable = known is not None and not known.is_technical and not known.is_lethal
        decision = str(getattr(d.decision, "value", d.decision))
        if auditable:  # lethal types are never audit-sampled, so the audit says nothing about them
            c = self.counts
            if d.audit_sample:
                c.audit_sampled += 1
            elif decision == Decision.SUPPRESS.value:
                c.suppressed += 1
            else:
                c.forwarded += 1
        seen = self._seen[(d.bed, d.alarm_id)] = JoinedDecision(d.type, d.priority, decision, d.audit_sample, auditable,
                                                       d.alarm_ts)
        if len(self._seen) > self.max_remembered:
            self._seen.popitem(last=False)
        return seen

    def labelled(self, fb: Feedback) -> JoinedDecision | None:
        """The decision a label is for (None when forgotten or never seen); the label is counted."""
        seen = self._seen.get((fb.bed, fb.alarm_id))
        if seen is None or not seen.auditable:
            return seen
        c = self.counts
        if seen.audit_sample:
            c.audit_true += fb.actionable
            c.audit_false += not fb.actionable
        elif seen.decision == Decision.FORWARD.value:
            c.forwarded_true += fb.actionable
            c.forwarded_false += not fb.actionable
        return seen
