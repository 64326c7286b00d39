"""All benchmarks in one JSON object: `make bench` and `alarmfilter bench [--json] [--quick]`.

Own measurements (bench_engine, bench_memory) count CPU time (`time.process_time`) and report
ratios measured side by side in one process, because the machines this runs on are shared and
noisy; the other engineers' benchmarks (features, evaluate, kafka) run as they are, in a
subprocess each, and their figures are copied over with the way they were measured.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    from . import bench_engine, bench_memory
except ImportError:  # run as a script
    import bench_engine  # type: ignore[no-redef]
    import bench_memory  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEV_DIR = ROOT / ".." / "shared" / "data" / "challenge2015-dev"
TARGETS = {
    "engine_bed_seconds_per_cpu_second": (">=", 1000.0),
    "kafka_ratio_vs_passthrough": (">=", 0.8),
    "decision_latency_ms_p99": ("<=", 50.0),
    "memory_mb_per_bed": ("<=", 2.0),
    "memory_worst_case_mb_per_bed": ("<=", 8.0),
}
#: Full run and --quick run (a smoke run of the same code: seconds, not minutes; figures rough).
PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "engine": {"beds": 10, "seconds": 900.0, "repeats": 3},
        "scaling": {"beds_list": [1, 10, 100, 1000], "timed_seconds": 3600.0},
        "memory": {"beds": 3, "hours": 36.0, "at_hours": 24.0, "checkpoints": 18},
        "memory_worst": {"beds": 2},
        "features": ["--repeat", "3"],
        "evaluate": ["--jobs", "1"],
        "kafka": [],
    },
    "quick": {
        "engine": {"beds": 2, "seconds": 60.0, "repeats": 2, "warmup_seconds": 10.0},
        "scaling": {"beds_list": [1, 4], "timed_seconds": 20.0, "warmup_seconds": 10.0},
        "memory": {"beds": 1, "hours": 0.75, "at_hours": 0.5, "checkpoints": 6},
        "memory_worst": {"beds": 1},
        "features": ["--repeat", "1", "--limit", "5"],
        "evaluate": ["--jobs", "1", "--limit", "5"],
        "kafka": None,  # needs a broker: skipped in quick mode
    },
}
Log = Callable[[str], None]
#: Every figure the JSON object always carries; None only when `skipped` names the reason.
DOCUMENTED_KEYS: dict[str, type | tuple[type, ...]] = {
    "engine_bed_seconds_per_cpu_second": float,
    "decode_only_bed_seconds_per_cpu_second": float,
    "engine_vs_decode_only": float,
    "feature_ms_per_alarm": dict,  # alarm type -> {n, p50, p99}
    "evaluate_records_per_second": (int, float),
    "kafka_ratio_vs_passthrough": (int, float),
    "decision_latency_ms": dict,  # {p50, p99}
    "memory_mb_per_bed": float,
    "memory_at_hours": (int, float),  # memory_mb_per_bed is measured here (24 h)
    "memory_growth_mb_per_bed_before": float,  # over the span (12 h) before memory_at_hours
    "memory_growth_mb_per_bed_at_end": float,  # over the last span of the run (hours 24-36)
    "memory_growth_span_hours": (int, float),
    "memory_simulated_hours": (int, float),
    "memory_worst_case_mb_per_bed": float,  # the worst input every per-bed limit accepts
    "scaling": list,  # [{beds, seconds, engine_bed_seconds_per_cpu_second, relative_to_first, ...}]
    "scaling_max_deviation": float,
    "machine": dict,
    "git": dict,
    "targets": dict,
    "skipped": dict,
}


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import numpy
    import pydantic
    import scipy

    cpu = ""
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), "")
    except OSError:
        pass
    blas = numpy.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu or platform.processor(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy.__version__, "scipy": scipy.__version__, "pydantic": pydantic.__version__,
        "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
        "blas_env": {k: v for k, v in sorted(os.environ.items())
                     if k.startswith(("OPENBLAS_", "OMP_", "MKL_")) and k.isupper()},
        "load_1min_start": round(os.getloadavg()[0], 2),
    }


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], check=False, cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "alarmfilter", "benchmarks")
    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(dirty)}


def _script(name: str, args: list[str], timeout_seconds: float) -> tuple[str | None, str | None]:
    """stdout of benchmarks/NAME run with this Python, or None and why not."""
    path = HERE / name
    if not path.exists():
        return None, f"{name} not found"
    try:
        p = subprocess.run([sys.executable, str(path), *args], check=False, cwd=ROOT, capture_output=True, text=True,
                           timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        return None, f"{name} took longer than {timeout_seconds:.0f} s"
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"{name} exited {p.returncode}: {tail[:300]}"
    return p.stdout, None


def _last_json(text: str) -> Any:
    """The last top-level JSON object in a script's stdout (scripts may print lines before it)."""
    dec = json.JSONDecoder()
    found = None
    i = text.find("{")
    while i != -1:
        try:
            found, end = dec.raw_decode(text, i)
            i = text.find("{", end)
        except ValueError:
            i = text.find("{", i + 1)
    return found


_ROW = re.compile(r"^(\w+)\s+(\d+)((?:\s+[\d.]+){2,4})\s*$")


def parse_feature_table(text: str) -> dict[str, dict[str, float]]:
    r"""bench_features.py's table -> {alarm type: {n, p50, p99[, wall_p50, wall_p99]}}.

    Columns are `n p50 p99` (wall) or `n wall-p50 wall-p99 cpu-p50 cpu-p99`; p50/p99 are CPU
    time when the table has it (robust on a loaded machine), wall time otherwise.

    >>> parse_feature_table("alarm type  n  p50 ms  p99 ms\nasystole  49  16.50  27.96\n")
    {'asystole': {'n': 49, 'p50': 16.5, 'p99': 27.96}}
    >>> parse_feature_table("asystole 20 5.62 9.18 3.33 5.22\n")["asystole"]
    {'n': 20, 'p50': 3.33, 'p99': 5.22, 'wall_p50': 5.62, 'wall_p99': 9.18}
    """
    out: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        m = _ROW.match(line.strip())
        if not m:
            continue
        v = [float(x) for x in m.group(3).split()]
        row: dict[str, float] = {"n": int(m.group(2))}
        if len(v) == 4:
            row.update({"p50": v[2], "p99": v[3], "wall_p50": v[0], "wall_p99": v[1]})
        elif len(v) == 2:
            row.update({"p50": v[0], "p99": v[1]})
        else:
            continue
        out[m.group(1)] = row
    return out


def features(args: list[str], log: Log) -> dict[str, Any]:
    if not DEV_DIR.exists():
        return {"skipped": f"{DEV_DIR} absent (fetch with `alarmfilter data fetch challenge2015`)"}
    log("features: bench_features.py")
    out, why = _script("bench_features.py", [str(DEV_DIR), *args], 900)
    if out is None:
        return {"skipped": why}
    table = parse_feature_table(out)
    if not table:
        return {"skipped": "bench_features.py printed no table", "output": out[-500:]}
    cpu = any("wall_p50" in v for v in table.values())
    return {"per_type": table, "how": "bench_features.py: per extract_evidence call, 60 s window, dev records, "
                                      + ("p50/p99 = thread CPU time, wall_* = wall time" if cpu else "wall time")}


def evaluate(args: list[str], log: Log) -> dict[str, Any]:
    if not DEV_DIR.exists():
        return {"skipped": f"{DEV_DIR} absent (fetch with `alarmfilter data fetch challenge2015`)"}
    log("evaluate: bench_evaluate.py")
    out, why = _script("bench_evaluate.py", [str(DEV_DIR), *args], 1800)
    if out is None:
        return {"skipped": why}
    data = _last_json(out)
    runs = data.get("runs", []) if isinstance(data, dict) else []
    alone = [r for r in runs if r.get("variants") == 1]
    if not alone:
        return {"skipped": "bench_evaluate.py printed no filter-only run", "output": out[-500:]}
    return {"records_per_second": alone[0]["records_per_second"], "runs": runs,
            "cpu_ms_per_record": alone[0].get("cpu_ms_per_record"),
            "how": "bench_evaluate.py: wall time, filter variant only, jobs=1"}


def kafka(args: list[str] | None, log: Log) -> dict[str, Any]:
    if args is None:
        return {"skipped": "quick mode: the Kafka benchmark starts a broker (run without --quick)"}
    log("kafka: bench_kafka.py")
    out, why = _script("bench_kafka.py", args, 900)
    if out is None:
        return {"skipped": why}
    data = _last_json(out)
    if not isinstance(data, dict):
        return {"skipped": "bench_kafka.py printed no JSON object", "output": out[-500:]}
    if data.get("skipped"):
        return {"skipped": str(data["skipped"]), "output": data}
    ratio = _find(data, ("kafka_ratio_vs_passthrough", "ratio_vs_passthrough", "throughput_ratio"))
    # bench_kafka.py: "after_data_ms" = decision time minus when the alarm *and* the chunk covering it
    # were both on the broker (what the engine adds, hold 0); "after_alarm_ms" includes waiting for that chunk.
    lat = _find(data, ("decision_latency_ms", "after_data_ms"))
    after_alarm = _find(data, ("after_alarm_ms",))
    if not isinstance(ratio, (int, float)) or not isinstance(lat, dict) or "p99" not in lat:
        return {"skipped": "bench_kafka.py output lacks a ratio or decision latency", "output": data}
    return {"ratio_vs_passthrough": ratio, "decision_latency_ms": {"p50": lat.get("p50"), "p99": lat.get("p99")},
            "decision_latency_after_alarm_ms": after_alarm,
            "how": "bench_kafka.py: Tansu broker, wall time; worker vs pass-through faust agent on the same "
                   "backlog; latency from producer timestamps", "output": data}


def _find(data: Any, keys: tuple[str, ...]) -> Any:
    """First value under any of `keys`, searching nested objects breadth-first."""
    queue = [data]
    while queue:
        d = queue.pop(0)
        if isinstance(d, dict):
            for k in keys:
                if k in d:
                    return d[k]
            queue += [v for v in d.values() if isinstance(v, dict)]
    return None


def run(quick: bool = False, log: Log | None = None) -> dict[str, Any]:
    """Every benchmark; the documented keys are always present (None + a reason when skipped)."""
    say: Log = log or (lambda msg: None)
    prof = PROFILES["quick" if quick else "full"]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result: dict[str, Any] = {"profile": "quick" if quick else "full", "machine": machine(), "git": git_commit()}

    say(f"engine: {prof['engine']}")
    eng = bench_engine.measure(**prof["engine"])
    say(f"scaling: {prof['scaling']}")
    scale = bench_engine.scaling(**prof["scaling"])
    say(f"memory: {prof['memory']}")
    mem = bench_memory.measure(**prof["memory"])
    say(f"memory, worst accepted input: {prof['memory_worst']}")
    worst = bench_memory.worst_case(**prof["memory_worst"])
    feat = features(prof["features"], say)
    ev = evaluate(prof["evaluate"], say)
    kf = kafka(prof["kafka"], say)

    result.update({
        "engine_bed_seconds_per_cpu_second": eng["engine_bed_seconds_per_cpu_second"],
        "decode_only_bed_seconds_per_cpu_second": eng["decode_only_bed_seconds_per_cpu_second"],
        "engine_vs_decode_only": eng["engine_vs_decode_only"],
        "feature_ms_per_alarm": feat.get("per_type"),
        "evaluate_records_per_second": ev.get("records_per_second"),
        "kafka_ratio_vs_passthrough": kf.get("ratio_vs_passthrough"),
        "decision_latency_ms": kf.get("decision_latency_ms"),
        "decision_latency_after_alarm_ms": kf.get("decision_latency_after_alarm_ms"),
        "memory_mb_per_bed": mem["memory_mb_per_bed"],
        "memory_at_hours": mem["at_hours"],
        "memory_growth_mb_per_bed_before": mem["growth_mb_per_bed_before"],
        "memory_growth_mb_per_bed_at_end": mem["growth_mb_per_bed_at_end"],
        "memory_growth_span_hours": mem["growth_span_hours"],
        "memory_simulated_hours": mem["simulated_hours"],
        "memory_feed_cpu_second_half_vs_first": mem["feed_cpu_second_half_vs_first"],
        "memory_method": mem["method"],
        "memory_worst_case_mb_per_bed": worst["worst_case_mb_per_bed"],
        "scaling": scale["points"],
        "scaling_template": scale["template"],
        "scaling_max_deviation": _max_deviation(scale["points"]),
        "details": {"engine": eng, "memory": mem, "memory_worst_case": worst, "features": feat, "evaluate": ev, "kafka": kf},
        "timing": ("engine and memory: CPU time (time.process_time) of the driver calls only, engine and "
                   "decode-only interleaved batch by batch; features/evaluate/kafka: as their scripts measure "
                   "(wall time), see details.*.how"),
    })
    result["skipped"] = {k: v["skipped"] for k, v in (("feature_ms_per_alarm", feat),
                                                      ("evaluate_records_per_second", ev),
                                                      ("kafka_ratio_vs_passthrough", kf),
                                                      ("decision_latency_ms", kf)) if "skipped" in v}
    result["targets"] = targets(result)
    result["machine"]["load_1min_end"] = round(os.getloadavg()[0], 2)
    result["bench_cpu_seconds"] = round(time.process_time() - cpu0, 1)
    result["bench_wall_seconds"] = round(time.perf_counter() - wall0, 1)
    return result


def _max_deviation(rows: list[dict[str, Any]]) -> float | None:
    """Largest |throughput / first point's - 1| over the curve: 0 = perfectly linear cost."""
    rel = [r["relative_to_first"] for r in rows if r.get("relative_to_first") is not None]
    return round(max(abs(x - 1.0) for x in rel), 3) if rel else None


def targets(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    lat = result.get("decision_latency_ms") or {}
    values = {
        "engine_bed_seconds_per_cpu_second": result.get("engine_bed_seconds_per_cpu_second"),
        "kafka_ratio_vs_passthrough": result.get("kafka_ratio_vs_passthrough"),
        "decision_latency_ms_p99": lat.get("p99") if isinstance(lat, dict) else None,
        "memory_mb_per_bed": result.get("memory_mb_per_bed"),
        "memory_worst_case_mb_per_bed": result.get("memory_worst_case_mb_per_bed"),
    }
    out = {}
    for name, (op, bound) in TARGETS.items():
        v = values[name]
        met = None if v is None else (v >= bound if op == ">=" else v <= bound)
        out[name] = {"value": v, "target": f"{op} {bound:g}", "met": met}
    return out


def table(result: dict[str, Any]) -> str:
    """The figures as a Markdown table (README-ready)."""
    m, g = result["machine"], result["git"]
    rows = [("engine, bed-seconds per CPU-second", result["engine_bed_seconds_per_cpu_second"], "≥ 1000"),
            ("decode-only driver, bed-seconds per CPU-second", result["decode_only_bed_seconds_per_cpu_second"], ""),
            ("engine / decode-only (same run)", result["engine_vs_decode_only"], "")]
    for t, v in (result["feature_ms_per_alarm"] or {}).items():
        clock = "CPU" if "wall_p50" in v else "wall"
        rows.append((f"features {t}, {clock} ms p50 / p99", f"{v['p50']:.1f} / {v['p99']:.1f} (n={v['n']})", ""))
    ev = result["details"]["evaluate"]
    cpu_ms = f" ({ev['cpu_ms_per_record']} CPU ms per record)" if ev.get("cpu_ms_per_record") else ""
    n_rec = (ev.get("runs") or [{}])[0].get("records", "?")
    rows.append((f"evaluate dev set ({n_rec} records), records per second (wall, jobs=1)",
                 None if result["evaluate_records_per_second"] is None
                 else f"{result['evaluate_records_per_second']}{cpu_ms}", ""))
    lat = result["decision_latency_ms"] or {}
    rows.append(("Kafka worker / pass-through", result["kafka_ratio_vs_passthrough"], "≥ 0.8"))
    rows.append(("Kafka decision latency after the alarm's data, ms p50 / p99",
                 f"{lat.get('p50')} / {lat.get('p99')}" if lat else None, "p99 ≤ 50"))
    after = result.get("decision_latency_after_alarm_ms") or {}
    if after:
        rows.append(("Kafka decision latency after the alarm message, ms p50 / p99",
                     f"{after.get('p50')} / {after.get('p99')}", "(waits for the 1 s chunk)"))
    at, span, end = result["memory_at_hours"], result["memory_growth_span_hours"], result["memory_simulated_hours"]
    rows.append((f"memory per bed after {at:g} simulated h, MB (tracemalloc)", result["memory_mb_per_bed"], "≤ 2"))
    rows.append((f"memory growth h {at - span:g}-{at:g}, MB per bed (feedback retention filling)",
                 result["memory_growth_mb_per_bed_before"], ""))
    rows.append((f"memory growth h {end - span:g}-{end:g}, MB per bed (steady state)",
                 result["memory_growth_mb_per_bed_at_end"], "≈ 0"))
    rows.append(("engine CPU per event, 2nd half of the run / 1st", result["memory_feed_cpu_second_half_vs_first"],
                 "≈ 1"))
    for r in result["scaling"]:
        rows.append((f"scaling {r['beds']} beds x {r['seconds']:g} s (same content), bed-s per CPU-s",
                     f"{r['engine_bed_seconds_per_cpu_second']} ({r['relative_to_first']}x)", "flat"))
    lines = ["| measure | value | target |", "|---|---|---|"]
    lines += [f"| {a} | {'skipped' if b is None else b} | {c} |" for a, b, c in rows]
    lines.append("")
    lines.append(f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), Python {m['python']}, numpy {m['numpy']}, "
                 f"{m['blas']}, env {m['blas_env'] or '{}'}; load {m['load_1min_start']} -> "
                 f"{m.get('load_1min_end')}. Commit {g['commit']}{' (dirty)' if g['dirty'] else ''}.")
    for k, why in result["skipped"].items():
        lines.append(f"Skipped {k}: {why}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true", help="print the JSON object only")
    ap.add_argument("--quick", action="store_true", help="a smoke run of every benchmark (seconds)")
    a = ap.parse_args(argv)
    result = run(a.quick, log=lambda msg: print(f"bench: {msg}", file=sys.stderr, flush=True))
    print(json.dumps(result, indent=1) if a.json else table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
