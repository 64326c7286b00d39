"""How many true alarms did the filter hold back?  An estimate from audit samples, with a confidence interval.

Clinicians never label an alarm they never saw, so feedback alone cannot count missed true
alarms.  The engine forwards a random ``audit_fraction`` of the alarms it would have suppressed
(non-lethal ones; lethal types are never audit-sampled), flagged ``audit_sample``.  Each is a
draw from the would-be-suppressed population with known probability (its propensity), so the
share of them clinicians call actionable estimates the share of true alarms among everything
suppressed: an inverse-propensity weighted (Hajek) mean, with an exact (Clopper-Pearson)
interval on the Kish effective sample size.  Exact rather than Wilson because the audit sees few
true alarms (often none or one), where approximate intervals cover less than they claim, and
this number is the one that says whether the filter is hiding true alarms.  Multiplied by the number suppressed it is the missed-true count the
dashboard shows.

References
----------
Horvitz D.G., Thompson D.J. A generalization of sampling without replacement from a finite
universe. J. Am. Stat. Assoc. 1952;47:663-685.
Hajek J. Comment on "An essay on the logical foundations of survey sampling". 1971.
Clopper C.J., Pearson E.S. The use of confidence or fiducial limits illustrated in the case of
the binomial. Biometrika 1934;26:404-413.
Wilson E.B. Probable inference, the law of succession, and statistical inference.
J. Am. Stat. Assoc. 1927;22:209-212.
Kish L. Survey Sampling. Wiley, 1965.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist

from scipy.stats import beta

#: engine stats keys the estimate reads (written by `BedEngine`, summed over beds by drivers)
STAT_POPULATION = "audit_population"  # non-lethal alarms the policy would have suppressed
STAT_SAMPLES = "audit_samples"  # of those, forwarded as audit samples
STAT_AUDIT_TRUE = "audit_labelled_true"
STAT_AUDIT_FALSE = "audit_labelled_false"
STAT_FORWARDED_TRUE = "forwarded_labelled_true"  # forwarded on evidence (not audit), labelled true


def audit_draw(seed: int, bed: str, alarm_id: str, fraction: float) -> bool:
    """Whether this would-be-suppressed alarm is an audit sample: a uniform draw keyed by a hash of
    (seed, bed, alarm id), so the answer is the alarm's own, whatever order a driver decided the
    ward's alarms in (a sequential random stream gave the draw to whichever alarm came first).

    >>> audit_draw(0, "ICU1-07", "a1", 0.05), audit_draw(0, "ICU1-07", "a1", 1.0), audit_draw(0, "B", "a", 0.0)
    (False, True, False)
    >>> sum(audit_draw(0, "ICU1-07", f"a{i}", 0.05) for i in range(10_000))
    501
    """
    if fraction <= 0:
        return False
    digest = hashlib.blake2b(f"{seed}\x1f{bed}\x1f{alarm_id}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64 < fraction


def exact_interval(p_hat: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval for a proportion (``n`` may be an effective, non-integer count).

    >>> [round(v, 3) for v in exact_interval(0.0, 20)]
    [0.0, 0.168]
    >>> [round(v, 4) for v in exact_interval(1 / 29, 29)]
    [0.0009, 0.1776]
    """
    if n <= 0:
        return 0.0, 1.0
    k, alpha = p_hat * n, 1.0 - confidence
    lo = 0.0 if k <= 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k >= n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def wilson_interval(p_hat: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion; sound at 0 and 1 and with few samples.

    >>> [round(v, 3) for v in wilson_interval(0.0, 20)]
    [0.0, 0.161]
    >>> [round(v, 3) for v in wilson_interval(0.5, 100)]
    [0.404, 0.596]
    """
    if n <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    denom = 1 + z * z / n
    centre = (p_hat + z * z / (2 * n)) / denom
    half = z * math.sqrt(p_hat * (1 - p_hat) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class MissedTrueEstimate:
    """Estimated true alarms among those suppressed, and the share of all true alarms that is.

    ``missed_true`` counts suppressed alarms (audit samples were forwarded, so they are not
    missed).  ``missed_share`` = missed / (true alarms forwarded + missed): one minus the
    filter's sensitivity on the types that may be audited.
    """

    suppressed: int
    audited_labelled: float
    true_fraction: float
    true_fraction_low: float
    true_fraction_high: float
    missed_true: float
    missed_true_low: float
    missed_true_high: float
    missed_share: float
    missed_share_low: float
    missed_share_high: float
    confidence: float

    @property
    def informative(self) -> bool:
        """False until at least one audit sample has been labelled (the interval is then [0, all])."""
        return self.audited_labelled > 0


class AuditLedger:
    """Running sums for the estimate; propensities may change over time (per-sample weights).

    >>> led = AuditLedger()
    >>> for i in range(1000):
    ...     led.would_suppress(audited=i % 20 == 0)
    >>> for i in range(50):
    ...     led.audit_label(actionable=i < 5, propensity=0.05)
    >>> est = led.estimate(forwarded_true=200)
    >>> round(est.true_fraction, 2), round(est.missed_true), est.suppressed
    (0.1, 95, 950)
    >>> est.missed_true_low < 95 < est.missed_true_high
    True
    """

    def __init__(self) -> None:
        self.population = 0
        self.sampled = 0
        self.sum_w = 0.0
        self.sum_w2 = 0.0
        self.sum_wy = 0.0

    def would_suppress(self, audited: bool) -> None:
        self.population += 1
        self.sampled += int(audited)

    def audit_label(self, actionable: bool, propensity: float) -> None:
        if not 0 < propensity <= 1:
            raise ValueError(f"propensity must be in (0, 1], got {propensity}")
        w = 1.0 / propensity
        self.sum_w += w
        self.sum_w2 += w * w
        self.sum_wy += w * float(actionable)

    def estimate(self, forwarded_true: float = 0.0, confidence: float = 0.95) -> MissedTrueEstimate:
        suppressed = max(0, self.population - self.sampled)
        if self.sum_w > 0:
            p_hat = self.sum_wy / self.sum_w
            n_eff = self.sum_w ** 2 / self.sum_w2
        else:
            p_hat, n_eff = 0.0, 0.0
        lo, hi = exact_interval(p_hat, n_eff, confidence)
        return _estimate(suppressed, n_eff, p_hat, lo, hi, forwarded_true, confidence)


def _share(missed: float, forwarded_true: float) -> float:
    total = missed + forwarded_true
    return missed / total if total > 0 else 0.0


def _estimate(suppressed: int, n: float, p_hat: float, lo: float, hi: float, forwarded_true: float,
              confidence: float) -> MissedTrueEstimate:
    m, m_lo, m_hi = p_hat * suppressed, lo * suppressed, hi * suppressed
    return MissedTrueEstimate(
        suppressed=suppressed, audited_labelled=n, true_fraction=p_hat, true_fraction_low=lo,
        true_fraction_high=hi, missed_true=m, missed_true_low=m_lo, missed_true_high=m_hi,
        missed_share=_share(m, forwarded_true), missed_share_low=_share(m_lo, forwarded_true),
        missed_share_high=_share(m_hi, forwarded_true), confidence=confidence,
    )


def estimate_from_stats(stats: Mapping[str, float], confidence: float = 0.95) -> MissedTrueEstimate:
    """The estimate from engine ``stats`` counters (summed over beds by the driver).

    With one audit fraction for the whole ward the propensity cancels out of the Hajek mean,
    so counts are enough.

    >>> est = estimate_from_stats({"audit_population": 400, "audit_samples": 20,
    ...     "audit_labelled_true": 2, "audit_labelled_false": 18, "forwarded_labelled_true": 100})
    >>> round(est.missed_true), [round(v) for v in (est.missed_true_low, est.missed_true_high)]
    (38, [5, 120])
    """
    k_true = float(stats.get(STAT_AUDIT_TRUE, 0))
    n = k_true + float(stats.get(STAT_AUDIT_FALSE, 0))
    suppressed = max(0, int(stats.get(STAT_POPULATION, 0)) - int(stats.get(STAT_SAMPLES, 0)))
    p_hat = k_true / n if n else 0.0
    lo, hi = exact_interval(p_hat, n, confidence)
    fwd = float(stats.get(STAT_FORWARDED_TRUE, 0)) + k_true
    return _estimate(suppressed, n, p_hat, lo, hi, fwd, confidence)
