"""Fit the shipped prior: ``python -m alarmfilter.model.train DATA_DIR --out alarmfilter/model/prior.json``.

Deterministic: same records and seed give the same JSON byte for byte.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from alarmfilter.model.crossval import extract_rows, train_model


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data_dir")
    ap.add_argument("--out", default=str(Path(__file__).with_name("prior.json")))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default=None, help="JSON feature cache (e.g. under /tmp)")
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args(argv)
    rows = extract_rows(a.data_dir, a.cache, a.workers)
    model = train_model(rows, seed=a.seed)
    model.meta["data"] = Path(a.data_dir).name
    Path(a.out).write_text(model.to_json() + "\n")
    print(f"wrote {a.out}: {model.version}, {len(rows)} records, thresholds {model.thresholds}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
