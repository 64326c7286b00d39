"""Matplotlib figures of an evaluation, returned as PNG bytes (the report embeds them)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot

import matplotlib.pyplot as plt
import numpy as np

from ..events.types import MISSED_TRUE_ALARM_WEIGHT as FN_WEIGHT
from .metrics import TYPE_ORDER, confusion
from .runner import Outcome

SHORT = {
    "asystole": "asystole",
    "extreme_bradycardia": "brady",
    "extreme_tachycardia": "tachy",
    "ventricular_tachycardia": "VT",
    "ventricular_flutter_fib": "VF",
    "overall": "overall",
}


def png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _types(outcomes: Sequence[Outcome]) -> list[str]:
    return [t for t in TYPE_ORDER if any(o.alarm_type == t for o in outcomes)]


def burden(results: dict[str, list[Outcome]]) -> bytes:
    """Per type and variant: false alarms suppressed (%) against true alarms missed (count)."""
    names = list(results)
    types = _types(next(iter(results.values()))) + ["overall"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(types))
    for i, name in enumerate(names):
        sup, missed = [], []
        for t in types:
            c = confusion(o for o in results[name] if t == "overall" or o.alarm_type == t)
            sup.append(100.0 * (c.tnr or 0.0))
            missed.append(c.fn)
        ax1.bar(x + i * width, sup, width, label=name)
        ax2.bar(x + i * width, missed, width, label=name)
    for ax, title in ((ax1, "false alarms suppressed (%)"), (ax2, "true alarms missed (count)")):
        ax.set_xticks(x + width * (len(names) - 1) / 2, [SHORT.get(t, t) for t in types])
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    ax1.set_ylim(0, 100)
    ax2.legend(fontsize=8)
    return png(fig)


def score_vs_threshold(outcomes: Sequence[Outcome], thresholds: dict[str, list[float]]) -> bytes:
    """Challenge score, TPR and TNR per type if the filter forwarded at score >= threshold.

    Records decided without a score (fail-open) are forwarded at every threshold.
    """
    types = _types(outcomes)
    fig, axes = plt.subplots(1, max(len(types), 1), figsize=(3.2 * max(len(types), 1), 3.0), squeeze=False)
    grid = np.linspace(0.0, 1.0, 201)
    for ax, t in zip(axes[0], types):
        rows = [(o.score, o.label) for o in outcomes if o.alarm_type == t and o.label is not None]
        s = np.array([1.0 if sc is None else sc for sc, _ in rows])
        y = np.array([bool(lb) for _, lb in rows])
        fwd = s[None, :] >= grid[:, None]
        tp = (fwd & y).sum(1)
        fn = (~fwd & y).sum(1)
        tn = (~fwd & ~y).sum(1)
        fp = (fwd & ~y).sum(1)
        score = (tp + tn) / np.maximum(tp + tn + fp + FN_WEIGHT * fn, 1)
        ax.plot(grid, score, label="score", color="k")
        ax.plot(grid, tp / np.maximum(tp + fn, 1), label="TPR", color="tab:red", alpha=0.7)
        ax.plot(grid, tn / np.maximum(tn + fp, 1), label="TNR", color="tab:blue", alpha=0.7)
        for thr in thresholds.get(t, []):
            ax.axvline(thr, color="tab:green", ls="--", lw=1)
        ax.set_xscale("symlog", linthresh=0.01)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{SHORT.get(t, t)} (n={len(rows)})")
        ax.set_xlabel("threshold on p(true alarm)")
    axes[0][0].legend(fontsize=7, loc="lower left")
    return png(fig)


def learning_curve(learned: Sequence[Outcome], frozen: Sequence[Outcome], window: int = 50) -> bytes:
    """Rolling challenge score over the last `window` labelled records, learning vs frozen."""
    fig, ax = plt.subplots(figsize=(8, 3.0))
    for name, outs, color in (("prequential (learning)", learned, "tab:orange"), ("frozen (same start, no learning)", frozen, "tab:gray")):
        labelled = [o for o in outs if o.label is not None]
        xs, ys = [], []
        for i in range(1, len(labelled) + 1):
            c = confusion(labelled[max(0, i - window) : i])
            if c.score is not None:
                xs.append(i)
                ys.append(c.score)
        ax.plot(xs, ys, label=name, color=color)
    ax.set_xlabel("labelled alarms seen (seeded shuffled order)")
    ax.set_ylabel(f"score, last {window}")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return png(fig)
