"""`--report out.html`: one self-contained page (figures inline as base64 PNG, no external files).

For the clinical engineer deciding whether to trust the filter: what it forwarded and held back,
what it cost in missed true alarms, and the signals behind every miss.
"""

from __future__ import annotations

import base64
import html
import random
from pathlib import Path

from ..datasets.challenge import ALARM_TIME_SECONDS, RecordError, load_record
from ..review.strip import render_strip
from ..sim.learning_experiment import run_feedback_experiment, summary
from . import figures
from .metrics import format_table, summarise
from .runner import Outcome, alarm_seconds
from .session import FILTER, FILTER_FROZEN, Evaluation

#: suppressed alarms drawn (seeded) for strip charts, besides every missed true alarm
SUPPRESSED_SAMPLE = 8

CITATION = """Data: PhysioNet/Computing in Cardiology Challenge 2015, "Reducing False Arrhythmia Alarms
in the ICU" (Clifford G.D. et al. The PhysioNet/Computing in
Cardiology Challenge 2015: reducing false arrhythmia alarms in the ICU. Computing in Cardiology
2015;42:273-276), from PhysioBank, PhysioToolkit
and PhysioNet (Goldberger A.L. et al. Circulation 2000;101(23):e215-e220). Open Data Commons
Attribution License v1.0. The development folder is a stratified 40 % subset of the
challenge training set; the rest is held back for independent evaluation."""

VFDB_CITATION = """Data: MIT-BIH Malignant Ventricular Ectopy Database (Greenwald S.D. The development and analysis
of a ventricular fibrillation detector. M.S. thesis, MIT Dept. of Electrical Engineering and Computer Science,
1986), from PhysioBank, PhysioToolkit and PhysioNet (Goldberger A.L. et al. Circulation 2000;101(23):e215-e220).
Open Data Commons Attribution License v1.0. Alarms are built from the rhythm annotations (the protocol in
datasets/vfdb.py): no monitor raised them, and the records hold ECG only."""

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 7px;text-align:right}
td:first-child,td:nth-child(2),th{text-align:left}tr.overall{font-weight:bold;background:#f4f4f4}
img{max-width:100%}.note{color:#555;font-size:13px}.chart{margin:1.2em 0;border-top:1px solid #ddd}
.strip-box{overflow-x:auto;border:1px solid #ccc}"""

#: strip charts: this much before the alarm, and after the end of the hold (greyed: not used)
STRIP_BEFORE_SECONDS = 16.0
STRIP_AFTER_HOLD_SECONDS = 4.0


def _img(data: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _table(ev: Evaluation) -> str:
    results = {name: summarise(outs) for name, outs in ev.outcomes.items()}
    head = "".join(f"<th>{h}</th>" for h in
                   ["variant", "type", "TP", "FN", "TN", "FP", "TPR", "TNR", "score", "false alarms suppressed %",
                    "true alarms forwarded"])
    rows = []
    for r in format_table(results):
        cls = ' class="overall"' if r[1] == "overall" else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _strip(ev: Evaluation, o: Outcome, what: str) -> str:
    path = ev.options.data_dir / o.record
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in o.reasons) or "<li>(none)</li>"
    score = "-" if o.score is None else f"{o.score:.3f}"
    head = (f"<h4>{html.escape(what)}: {html.escape(o.record)} ({html.escape(o.alarm_type)}), "
            f"probability actionable {score}, {'forwarded' if o.forwarded else 'suppressed'}</h4><ul>{reasons}</ul>")
    source = ev.options.source()
    alarm_s = ALARM_TIME_SECONDS
    if source.vfdb_leads:  # an alarm cut from a long recording: it ends at its alarm
        rec = source.load_group([o.record], None)[0]
        if isinstance(rec, Outcome):
            return f'<div class="chart">{head}<p>{html.escape(rec.error or "")}</p></div>'
        signals, units, fs_hz, alarm_s = rec.signals, rec.units, rec.fs_hz, alarm_seconds(rec)
    else:
        try:
            signals, units, fs_hz, _, _ = load_record(path, until_alarm=False)
        except RecordError as exc:
            return f'<div class="chart">{head}<p>{html.escape(str(exc))}</p></div>'
    # the review station's renderer: ECG at 25 mm/s and 10 mm/mV, pressures on a fixed mmHg range
    hold = ev.options.hold_seconds
    lo = max(0, int((alarm_s - STRIP_BEFORE_SECONDS) * fs_hz))
    hi = int((alarm_s + hold + STRIP_AFTER_HOLD_SECONDS) * fs_hz)
    svg = render_strip({k: x[lo:hi] for k, x in signals.items()}, units, fs_hz, lo / fs_hz, alarm_s,
                       used_until_ts=alarm_s + hold,
                       title=f"{o.record} {o.alarm_type}, label {'true' if o.label else 'false'} alarm")
    return f'<div class="chart">{head}<div class="strip-box">{svg}</div></div>'


def render(ev: Evaluation) -> str:
    """The whole page as a string."""
    o = ev.options
    filt = ev.outcomes[FILTER]
    s = ev.summary()
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>alarmfilter evaluation</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>alarmfilter evaluation</h1>",
        f"<p>{len(ev.names)} records from <code>{html.escape(str(o.data_dir))}</code>; mode <b>{o.mode}</b>"
        + (f", <b>{o.cv}-fold cross-validation</b> by record (prior and thresholds refitted on K-1 folds)" if o.cv else "")
        + f"; hold {o.hold_seconds:g} s (data after alarm + hold is never used); seed {o.seed}; "
        f"model {html.escape(ev.model_version)}; {s['records_per_second']:.1f} records/s.</p>",
    ]
    if ev.model_problem:
        parts.append(f"<p><b>Model problem:</b> {html.escape(ev.model_problem)}; the filter forwarded everything.</p>")
    if not o.cv and o.mode == "frozen":
        parts.append("<p class='note'>The shipped prior was fitted on the development records: on them this "
                     "table is in-sample. Run with <code>--cv 5</code> for the honest figure.</p>")
    parts += [
        "<h2>Confusion table per alarm type</h2>",
        ("<p class='note'>Positive = true (actionable) alarm; TP = true alarm forwarded. Score = (TP + TN) / "
        "(TP + TN + FP + 5 FN), the challenge score. forward_all = today's monitor; monitor_delay = the "
        f"monitor dropping alarms whose ECG criterion clears within {o.monitor_delay_seconds:g} s "
        "(Görges et al., Anesth Analg 2009).</p>"),
        _table(ev),
    ]
    errors = [x for x in filt if x.error]
    if errors:
        parts.append("<h3>Unreadable records (forwarded, counted above)</h3><ul>"
                     + "".join(f"<li>{html.escape(x.record)}: {html.escape(x.error or '')}</li>" for x in errors)
                     + "</ul>")
    parts += [
        "<h2>False alarms suppressed vs true alarms missed</h2>",
        _img(figures.burden(ev.outcomes), "burden"),
        "<h2>Score vs decision threshold per type</h2>",
        ("<p class='note'>What the filter's scores would give at every threshold; dashed green: the "
        "threshold(s) used (one per fold under cross-validation).</p>"),
        _img(figures.score_vs_threshold(filt, ev.thresholds), "thresholds"),
        "<h2>Learning curve (prequential)</h2>",
    ]
    if FILTER_FROZEN in ev.outcomes:
        parts.append(_img(figures.learning_curve(filt, ev.outcomes[FILTER_FROZEN]), "learning curve"))
        parts += _ward_experiment(o.seed)
    else:
        parts.append("<p class='note'>Run with <code>--mode prequential</code> to see the model learn from "
                     "each label after its decision.</p>")
    missed = [x for x in filt if x.label is True and not x.forwarded]
    suppressed = [x for x in filt if not x.forwarded and x.label is not True]
    sample = sorted(random.Random(o.seed).sample(suppressed, min(SUPPRESSED_SAMPLE, len(suppressed))),
                    key=lambda x: x.record)
    parts.append(f"<h2>Missed true alarms ({len(missed)})</h2>")
    parts += [_strip(ev, x, "missed true alarm") for x in missed] or ["<p>None.</p>"]
    parts.append(f"<h2>Suppressed alarms: {len(sample)} of {len(suppressed)}, drawn at random</h2>")
    parts += [_strip(ev, x, "suppressed") for x in sample] or ["<p>None.</p>"]
    citation = VFDB_CITATION if o.source().vfdb_leads else CITATION
    parts += ["<h2>Data</h2>", f"<p class='note'>{html.escape(citation)}</p>", "</body></html>"]
    return "\n".join(parts)


def _ward_experiment(seed: int) -> list[str]:
    """The seeded ward in which feedback teaches what the prior cannot know (two beds' recurring artefacts)."""
    result = run_feedback_experiment(seed=seed)
    rows = "".join(
        f"<tr><td>Q{k + 1}</td><td>{q.alarms}</td><td>{q.false_suppressed}/{q.false_alarms} "
        f"({q.false_suppressed_pct:.0f} %)</td><td>{q.true_forwarded}/{q.true_alarms} "
        f"({100 * q.sensitivity:.1f} %)</td></tr>"
        for k, q in enumerate(result.quarters)
    )
    return [
        "<h2>Learning from clinician feedback on a ward (seeded experiment)</h2>",
        ("<p class='note'>Threshold alarms on 8 simulated beds; two beds raise a recurring artefact the prior "
         "does not know, a few real events look exactly like it. Clinicians label what they are shown "
         "(forwarded alarms and audit samples); the model learns each label after its decision.</p>"),
        ("<table><tr><th>quarter</th><th>alarms</th><th>false alarms suppressed</th>"
         f"<th>true alarms forwarded</th></tr>{rows}</table>"),
        f"<p>{html.escape(summary(result).splitlines()[-1])}</p>",
    ]


def write_report(path: Path, ev: Evaluation) -> None:
    path.write_text(render(ev), encoding="utf-8")
