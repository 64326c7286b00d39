"""Where the real data lives: `--data DIR`, then $ALARMFILTER_DATA_DIR, then ../shared/data, then the user cache."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CHALLENGE = "challenge2015-dev"
_REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class DataLocation:
    root: Path
    source: str  # which rule found it, reported in every run's output

    def dataset(self, name: str) -> Path:
        return self.root / name


def candidates(explicit: str | None = None) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    if explicit:
        found.append((Path(explicit), "--data"))
    env = os.environ.get("ALARMFILTER_DATA_DIR")
    if env:
        found.append((Path(env), "ALARMFILTER_DATA_DIR"))
    found.append((Path.cwd().parent / "shared" / "data", "../shared/data"))
    found.append((_REPO_ROOT.parent / "shared" / "data", "../shared/data"))
    found.append((Path.home() / ".cache" / "alarmfilter", "user cache"))
    return found


def find_dataset(name: str, explicit: str | None = None) -> DataLocation | None:
    """The first location holding dataset `name` (a folder with a RECORDS file or any files)."""
    for root, source in candidates(explicit):
        d = root / name
        if d.is_dir() and any(d.iterdir()):
            return DataLocation(root, source)
    return None
