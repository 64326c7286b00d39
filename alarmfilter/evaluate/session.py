"""One evaluation run: the filter (frozen, prequential or cross-validated) and the baselines.

`--cv K` is the honest figure on the development data: the shipped prior was fitted on these
very records, so scoring them with it is in-sample. With K folds, the prior and its thresholds
are refitted on K-1 folds (the model package's `train_model`, nested CV for thresholds) from
the evidence the engine computed, and the held-out fold is replayed through the engine.

A vfdb folder (RECORDS + .atr, no ALARMS) is evaluated the same way: its records are the alarms
`datasets.vfdb` builds from the rhythm annotations, named like `418-vf-404s`, with the two leads
named II/V or ECG1/ECG2 (`Options.lead_names`); `compare_lead_names` counts the decisions that
differ between the two namings.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..datasets.vfdb import LEAD_NAMES, is_vfdb_folder
from ..model.classifier import AlarmModel
from ..model.crossval import stratified_folds, train_model
from ..model.loading import ward_model_lifecycle
from .metrics import summarise
from .runner import Outcome, Source, run_frozen, run_prequential
from .variants import MONITOR_DELAY_SECONDS, Kind, Variant

#: start(description, total) -> advance(n); the CLI plugs a rich progress bar in here
ProgressHook = Callable[[str, int], Callable[[int], None]]

FILTER = "filter"
FILTER_FROZEN = "filter_frozen"
FORWARD_ALL = "forward_all"
MONITOR_DELAY = "monitor_delay"


class EvaluationError(ValueError):
    """The run cannot give a meaningful answer (e.g. cross-validation without enough labels)."""


@dataclass(frozen=True)
class Options:
    data_dir: Path
    mode: str = "frozen"  # frozen | prequential
    cv: int = 0
    seed: int = 0
    hold_seconds: float = 0.0
    jobs: int = 1
    truncate: float | None = None  # cut every record this many seconds after the alarm first
    monitor_delay_seconds: float = MONITOR_DELAY_SECONDS
    baselines: bool = True
    records: tuple[str, ...] | None = None  # a subset of RECORDS (tests, benchmarks); vfdb: alarms or recordings
    lead_names: str = "monitor"  # vfdb folders: the two leads named II/V (monitor) or ECG1/ECG2 (ecg)

    def source(self) -> Source:
        """Where the records come from: a vfdb folder's alarms are built from its annotations."""
        if self.lead_names not in LEAD_NAMES:
            raise EvaluationError(f"unknown lead naming {self.lead_names!r}: use one of {', '.join(sorted(LEAD_NAMES))}")
        return Source(self.data_dir, self.lead_names if is_vfdb_folder(self.data_dir) else None)


@dataclass
class Evaluation:
    options: Options
    names: list[str]  # records in the order the filter saw them (shuffled when prequential)
    outcomes: dict[str, list[Outcome]]  # variant -> outcome per record, aligned with `names`
    thresholds: dict[str, list[float]]  # per type, the thresholds the filter used (one per fold)
    model_version: str
    model_problem: str | None
    seconds: float
    fold_of: dict[str, int] = field(default_factory=dict)

    @property
    def records_per_second(self) -> float:
        return len(self.names) / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """The `--json` object: the filter's table at the top, baselines beside it."""
        filt = summarise(self.outcomes[FILTER])
        errors = [{"record": o.record, "error": o.error} for o in self.outcomes[FILTER] if o.error]
        vfdb_folder = self.options.source().vfdb_leads is not None
        return {
            "data_dir": str(self.options.data_dir),
            "dataset": "vfdb" if vfdb_folder else "alarm records",
            "lead_names": "/".join(LEAD_NAMES[self.options.lead_names]) if vfdb_folder else None,
            "records": len(self.names),
            "mode": self.options.mode,
            "cv_folds": self.options.cv or None,
            "seed": self.options.seed,
            "hold_seconds": self.options.hold_seconds,
            "model_version": self.model_version,
            "model_problem": self.model_problem,
            **filt,
            "records_per_second": round(self.records_per_second, 2),
            "seconds": round(self.seconds, 2),
            "errors": errors,
            "baselines": {k: summarise(v) for k, v in self.outcomes.items() if k != FILTER},
        }


def _noop(description: str, total: int) -> Callable[[int], None]:
    return lambda n: None


def evaluate(opts: Options, model: AlarmModel | None, model_problem: str | None = None,
             progress: ProgressHook = _noop) -> Evaluation:
    """Run the filter and the baselines over every record of `opts.data_dir`.

    `model` is the starting model (the shipped prior); None runs the evidence-free policy.
    """
    t0 = time.perf_counter()
    source = opts.source()
    names = source.names(opts.records)
    if opts.mode == "prequential":
        random.Random(opts.seed).shuffle(names)
    paths = [opts.data_dir / n for n in names]
    state = model.to_dict() if model is not None else None
    filt = Variant(FILTER, Kind.FILTER, opts.hold_seconds, opts.seed, state)
    variants = [filt]
    if opts.baselines:
        variants += [Variant(FORWARD_ALL, Kind.FORWARD_ALL, opts.hold_seconds, opts.seed),
                     Variant(MONITOR_DELAY, Kind.MONITOR_DELAY, 0.0, opts.seed, None, opts.monitor_delay_seconds)]
    first = run_frozen(paths, variants, truncate=opts.truncate, jobs=opts.jobs,
                       progress=progress("replaying records", len(paths)), source=source)
    outcomes: dict[str, list[Outcome]] = dict(first)
    thresholds = {t: [thr] for t, thr in (model.thresholds.items() if model else [])}
    version = model.version if model else "no-evidence"
    fold_of: dict[str, int] = {}
    if opts.cv and opts.cv > 1 and model is not None:
        cv_out, thresholds, fold_of = _cross_validate(opts, source, paths, first[FILTER], progress)
        version = f"cv{opts.cv}-seed{opts.seed}"
        if opts.mode == "prequential":
            outcomes[FILTER_FROZEN] = cv_out[0]
            outcomes[FILTER] = cv_out[1]
        else:
            outcomes[FILTER] = cv_out[0]
    elif opts.mode == "prequential" and model is not None:
        learner = ward_model_lifecycle(model=AlarmModel.from_dict(model.to_dict()))  # the shipped object stays untouched
        outcomes[FILTER_FROZEN] = first[FILTER]
        outcomes[FILTER] = run_prequential(paths, filt, learner, truncate=opts.truncate,
                                           progress=progress("prequential (learning)", len(paths)), source=source)
        version = learner.version
    return Evaluation(opts, names, outcomes, thresholds, version, model_problem,
                      time.perf_counter() - t0, fold_of)


def repeated_cv(opts: Options, model: AlarmModel, repeats: int, progress: ProgressHook = _noop
                ) -> tuple[Evaluation, dict[str, Any]]:
    """``--cv K --repeats R``: the same nested CV under R seeds (folds, inner folds, audit draws).

    Returns the first seed's full evaluation and the spread over all R: per seed the filter's
    overall figures and the true alarms missed per type, and min / mean / max of each figure.
    Every fitted number (the prior's weights, each type's threshold) is refitted inside every
    fold; the floor's constants come from the alarm definitions and are not fitted at all.
    """
    if repeats < 1:
        raise EvaluationError("--repeats needs R >= 1")
    if not (opts.cv and opts.cv > 1):
        raise EvaluationError("--repeats needs --cv K (K >= 2)")
    first: Evaluation | None = None
    runs: list[dict[str, Any]] = []
    for i in range(repeats):
        o = replace(opts, seed=opts.seed + i, baselines=opts.baselines and i == 0)
        ev = evaluate(o, model, progress=progress)
        first = first or ev
        filt = summarise(ev.outcomes[FILTER])
        runs.append({"seed": o.seed, **{k: filt["overall"][k] for k in ("score", "TPR", "TNR", "FN", "FP")},
                     "missed": {t: c["FN"] for t, c in filt["per_type"].items() if c["FN"]}})
    assert first is not None
    spread = {k: {"min": min(r[k] for r in runs), "mean": round(sum(r[k] for r in runs) / len(runs), 4),
                  "max": max(r[k] for r in runs)} for k in ("score", "TPR", "TNR", "FN")}
    return first, {"runs": runs, "spread": spread}


def _cross_validate(opts: Options, source: Source, paths: list[Path], scored: list[Outcome],
                    progress: ProgressHook) -> tuple[list[list[Outcome]], dict[str, list[float]], dict[str, int]]:
    """Held-out outcomes (frozen, and prequential when asked) for every record, K folds."""
    k = opts.cv
    rows = [{"record": o.record, "type": o.alarm_type, "label": bool(o.label), "features": o.features}
            for o in scored]
    usable = sum(o.label is not None and bool(o.features) for o in scored)
    if usable < 2 * k:
        raise EvaluationError(f"--cv {k} needs at least {2 * k} labelled, readable records; found {usable}")
    folds = stratified_folds(rows, k, opts.seed)
    fold_of = {o.record: int(f) for o, f in zip(scored, folds)}
    frozen: dict[str, Outcome] = {}
    learned: dict[str, Outcome] = {}
    thresholds: dict[str, list[float]] = {}
    advance = progress(f"{k}-fold cross-validation", len(paths))
    for f in range(k):
        train = [r for r, g, o in zip(rows, folds, scored) if g != f and o.label is not None and o.features]
        model = train_model(train, inner_k=k, seed=opts.seed + 1 + f)
        for t, thr in model.thresholds.items():
            thresholds.setdefault(t, []).append(thr)
        held = [p for p, g in zip(paths, folds) if g == f]
        variant = Variant(FILTER, Kind.FILTER, opts.hold_seconds, opts.seed, model.to_dict())
        for o in run_frozen(held, [variant], truncate=opts.truncate, jobs=opts.jobs, progress=advance,
                            source=source)[FILTER]:
            frozen[o.record] = o
        if opts.mode == "prequential":  # `paths` is already in the seeded shuffled order
            for o in run_prequential(held, variant, model, truncate=opts.truncate, source=source):
                learned[o.record] = o
    names = [p.name for p in paths]
    out = [[frozen[n] for n in names]]
    if learned:
        out.append([learned[n] for n in names])
    return out, thresholds, fold_of


@dataclass(frozen=True)
class LeadNameComparison:
    """The same vfdb alarms decided with the leads under two namings: decisions must not change."""

    namings: tuple[str, str]
    decisions: int
    changed: list[str]  # records whose decision (forward / suppress) differs
    forwarded: tuple[int, int]  # alarms forwarded under each naming

    def to_dict(self) -> dict[str, Any]:
        return {"namings": ["/".join(LEAD_NAMES[n]) for n in self.namings], "decisions": self.decisions,
                "changed": len(self.changed), "changed_records": self.changed,
                "forwarded": list(self.forwarded)}


def decisions_changed(a: list[Outcome], b: list[Outcome]) -> list[str]:
    """Records decided differently in two runs over the same records (same order)."""
    if [o.record for o in a] != [o.record for o in b]:
        raise EvaluationError("the two runs did not decide the same records")
    return [x.record for x, y in zip(a, b) if x.forwarded != y.forwarded]


def compare_lead_names(opts: Options, model: AlarmModel | None, first: Evaluation | None = None,
                       progress: ProgressHook = _noop) -> LeadNameComparison:
    """Decide a vfdb folder's alarms with the leads named II/V and ECG1/ECG2; count what changes.

    `first` is a run already made with `opts` (its naming); the other naming is run here, filter only.
    """
    if not opts.source().vfdb_leads:
        raise EvaluationError(f"{opts.data_dir}: comparing lead names needs a vfdb folder (RECORDS + .atr, no ALARMS)")
    other = next(n for n in LEAD_NAMES if n != opts.lead_names)
    base = first if first is not None else evaluate(replace(opts, baselines=False), model, progress=progress)
    alt = evaluate(replace(opts, lead_names=other, baselines=False), model, progress=progress)
    a, b = base.outcomes[FILTER], alt.outcomes[FILTER]
    return LeadNameComparison((opts.lead_names, other), len(a), decisions_changed(a, b),
                              (sum(o.forwarded for o in a), sum(o.forwarded for o in b)))
