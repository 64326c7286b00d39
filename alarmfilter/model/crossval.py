"""Honest K-fold cross-validation by record, stratified by alarm type and label.

Thresholds are part of the model, so they are chosen inside each training split
from *inner* out-of-fold scores (nested CV); the held-out fold never influences
its own threshold.  Run: ``python -m alarmfilter.model.crossval DATA_DIR --k 5 --seed 0``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alarmfilter.events.types import ARRHYTHMIA_ORDER as TYPE_ORDER
from alarmfilter.model.classifier import AlarmModel, fit_prior
from alarmfilter.policy.confusion import Confusion
from alarmfilter.policy.floor import check_floor, forwards
from alarmfilter.policy.thresholds import fit_thresholds

Row = dict[str, Any]  # {"record", "type", "label", "features"}


def extract_rows(data_dir: str | Path, cache: str | Path | None = None, workers: int = 1) -> list[Row]:
    """Evidence features of every labelled record (data up to the alarm only), cached as JSON."""
    if cache is not None and Path(cache).exists():
        return list(json.loads(Path(cache).read_text()))
    from alarmfilter.datasets.challenge import record_names

    names = record_names(data_dir)
    args = [str(Path(data_dir) / n) for n in names]
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as ex:
            rows = list(ex.map(_row_for, args))
    else:
        rows = [_row_for(a) for a in args]
    rows = [r for r in rows if r["label"] is not None]
    if cache is not None:
        Path(cache).write_text(json.dumps(rows))
    return rows


def _row_for(path: str) -> Row:
    from alarmfilter.datasets.challenge import load_record
    from alarmfilter.signals.evidence import extract_evidence

    signals, units, fs_hz, alarm_type, label = load_record(path)
    n = min(len(v) for v in signals.values())
    ev = extract_evidence(alarm_type, signals, units, fs_hz, n)
    return {"record": Path(path).name, "type": alarm_type, "label": label,
            "features": ev.features, "findings": ev.findings}


def stratified_folds(rows: Sequence[Row], k: int, seed: int) -> np.ndarray:
    """Fold number per row; each (type, label) stratum dealt round-robin after a seeded shuffle."""
    rng = np.random.default_rng(seed)
    folds = np.zeros(len(rows), dtype=int)
    strata: dict[tuple[str, bool], list[int]] = {}
    for i, r in enumerate(rows):
        strata.setdefault((r["type"], bool(r["label"])), []).append(i)
    offset = 0
    for key in sorted(strata):
        idx = np.array(sorted(strata[key], key=lambda i: rows[i]["record"]))
        rng.shuffle(idx)
        folds[idx] = (np.arange(idx.size) + offset) % k
        offset += idx.size
    return folds


def _scores(model: AlarmModel, rows: Sequence[Row]) -> list[float]:
    return [model.predict_proba_one(r["features"], r["type"])[True] for r in rows]


def _as_decided(row: Row, score: float) -> float:
    """The score as the decision sees it: 1 for an alarm the safety floor forwards, 0 for one it refutes.

    Thresholds are fitted on these, so a type's sensitivity target counts the floor's forwards
    and the threshold only has to place the alarms the floor left to the score.
    """
    check = check_floor(row["type"], row["features"])
    if not check.may_suppress:
        return 1.0
    return 0.0 if check.refuted else score


def train_model(rows: Sequence[Row], inner_k: int = 5, seed: int = 0) -> AlarmModel:
    """Prior on all rows + thresholds from inner out-of-fold scores."""
    rows = list(rows)
    folds = stratified_folds(rows, inner_k, seed)
    oof: list[tuple[str, float, bool]] = []
    for f in range(inner_k):
        tr = [r for r, g in zip(rows, folds) if g != f]
        te = [r for r, g in zip(rows, folds) if g == f]
        m = fit_prior((r["type"], r["features"], r["label"]) for r in tr)
        oof += [(r["type"], _as_decided(r, s), bool(r["label"])) for r, s in zip(te, _scores(m, te))]
    model = fit_prior((r["type"], r["features"], r["label"]) for r in rows)
    model.thresholds = fit_thresholds(oof)
    model.meta["threshold_seed"] = seed
    model._base_version = model._digest()
    return model


def cross_validate(rows: Sequence[Row], k: int = 5, seed: int = 0) -> list[dict[str, Any]]:
    """Held-out decisions for every row: ``{record, type, label, score, threshold, forward}``."""
    rows = list(rows)
    folds = stratified_folds(rows, k, seed)
    out: list[dict[str, Any]] = []
    for f in range(k):
        tr = [r for r, g in zip(rows, folds) if g != f]
        te = [r for r, g in zip(rows, folds) if g == f]
        model = train_model(tr, inner_k=k, seed=seed + 1 + f)
        for r, s in zip(te, _scores(model, te)):
            thr = model.thresholds.get(r["type"], 0.0)
            fwd = forwards(check_floor(r["type"], r["features"]), s, thr)
            out.append({"record": r["record"], "type": r["type"], "label": bool(r["label"]),
                        "score": s, "threshold": thr, "forward": fwd})
    return out


def summarise(decisions: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """TP/FN/TN/FP, TPR, TNR, challenge score and false alarms suppressed, per type and overall."""
    res: dict[str, dict[str, float]] = {}
    groups = {t: [d for d in decisions if d["type"] == t] for t in TYPE_ORDER}
    groups["overall"] = list(decisions)
    for t, ds in groups.items():
        if not ds:
            continue
        c = Confusion.of((bool(d["label"]), bool(d["forward"])) for d in ds)
        res[t] = {
            "TP": c.tp, "FN": c.fn, "TN": c.tn, "FP": c.fp,
            "TPR": c.tpr if c.tpr is not None else float("nan"),
            "TNR": c.tnr if c.tnr is not None else float("nan"),
            "score": 100.0 * (c.score or 0.0),
            "suppressed_pct": 100.0 * c.tnr if c.tnr is not None else float("nan"),
        }
    return res


def format_table(res: dict[str, dict[str, float]]) -> str:
    lines = [f"{'type':26s} {'TP':>4s} {'FN':>4s} {'TN':>4s} {'FP':>4s} {'TPR':>6s} {'TNR':>6s} {'score':>6s}"]
    for t, r in res.items():
        lines.append(f"{t:26s} {r['TP']:4d} {r['FN']:4d} {r['TN']:4d} {r['FP']:4d} "
                     f"{r['TPR']:6.3f} {r['TNR']:6.3f} {r['score']:6.2f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data_dir")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default=None, help="JSON feature cache (e.g. under /tmp)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--show-errors", action="store_true")
    a = ap.parse_args(argv)
    rows = extract_rows(a.data_dir, a.cache, a.workers)
    dec = cross_validate(rows, a.k, a.seed)
    res = summarise(dec)
    if a.json:
        print(json.dumps(res))
    else:
        print(f"{a.k}-fold CV by record, seed {a.seed}, {len(rows)} records")
        print(format_table(res))
    if a.show_errors:
        for d in sorted(dec, key=lambda d: (d["type"], d["label"])):
            if d["label"] != d["forward"]:
                print(f"  {'FN' if d['label'] else 'FP'} {d['record']} {d['type']} p={d['score']:.3f} thr={d['threshold']:.3f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
