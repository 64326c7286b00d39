"""Where the real data lives: `--data DIR`, then $ALARMFILTER_DATA_DIR, then ../shared/data, then the user cache.

The same rules serve our development machines (``../shared/data`` beside the
repository) and a user's fresh machine (``alarmfilter data fetch`` fills the user
cache).  Every run reports which rule found its data, so a figure is never
silently measured on the wrong folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

#: Our development subset of the challenge training set (see ../shared/data/README.md).
CHALLENGE = "challenge2015-dev"
#: The full public training set, as written by ``alarmfilter data fetch challenge2015``.
CHALLENGE_FETCHED = "challenge2015"
#: Challenge folders, in order of preference inside one root.
CHALLENGE_FOLDERS = (CHALLENGE, CHALLENGE_FETCHED)
BIDMC = "bidmc-numerics"
#: Half of the MIT-BIH Malignant Ventricular Ectopy Database (alarms built by `datasets.vfdb`).
VFDB = "vfdb-dev"
ENV_VAR = "ALARMFILTER_DATA_DIR"

#: The checkout this module was imported from (…/alarmfilter/datasets/location.py -> repo root).
_REPO_ROOT = Path(__file__).resolve().parents[2]


class Source(str, Enum):
    """Which rule found the data; the value is what the output prints."""

    FLAG = "--data"
    ENV = ENV_VAR
    SHARED = "../shared/data"
    CACHE = "user cache"


@dataclass(frozen=True, slots=True)
class DataLocation:
    root: Path
    source: str  # which rule found it, reported in every run's output
    folder: Path | None = None  # the dataset folder found; None for a bare root

    def dataset(self, name: str | None = None) -> Path:
        """The folder of dataset `name` under this root (the folder found, when `name` is None)."""
        if name is None or (self.folder is not None and self.folder.name == name):
            return self.folder if self.folder is not None else self.root
        return self.root / name

    def describe(self) -> str:
        """One line for a run's output.

        >>> DataLocation(Path("/d"), "--data", Path("/d/challenge2015-dev")).describe()
        '/d/challenge2015-dev (found via --data)'
        """
        return f"{self.folder if self.folder is not None else self.root} (found via {self.source})"


def user_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/alarmfilter``, else ``~/.cache/alarmfilter``: where `data fetch` writes by default."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "alarmfilter"


def candidates(
    explicit: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    repo_root: Path | None = None,
) -> list[tuple[Path, str]]:
    """Data roots to search, first match wins: --data, $ALARMFILTER_DATA_DIR, ../shared/data, user cache.

    ``../shared/data`` is tried relative to the working directory and to the
    checkout the package was imported from, so `make demo` and the tests find
    it from anywhere in the repo.  The keywords exist so tests can pin each rule.
    """
    env = os.environ if environ is None else environ
    here = Path.cwd() if cwd is None else cwd
    repo = _REPO_ROOT if repo_root is None else repo_root
    found: list[tuple[Path, str]] = []
    if explicit:
        found.append((Path(explicit).expanduser(), Source.FLAG.value))
    if env.get(ENV_VAR):
        found.append((Path(env[ENV_VAR]).expanduser(), Source.ENV.value))
    for shared in (here.parent / "shared" / "data", repo.parent / "shared" / "data"):
        if all(shared != p for p, _ in found):
            found.append((shared, Source.SHARED.value))
    found.append((user_cache_dir(env), Source.CACHE.value))
    return found


def _has_data(d: Path) -> bool:
    """A dataset folder with at least one data file: an interrupted first fetch (only a checksum
    list and ``.part`` files) does not count, so the next rule (or the shipped sample) is used."""
    return d.is_dir() and any(
        p.name != "SHA256SUMS.txt" and not p.name.endswith(".part") for p in d.iterdir()
    )


def _is_record_folder(d: Path) -> bool:
    """A WFDB record folder: a RECORDS file or at least one header."""
    return d.is_dir() and ((d / "RECORDS").is_file() or any(d.glob("*.hea")))


def find_first(
    names: Sequence[str],
    explicit: str | None = None,
    **where: Path | Mapping[str, str] | None,
) -> DataLocation | None:
    """The first root (in rule order) holding any dataset of `names`; within a root, `names` order wins.

    ``--data`` may also point straight at a record folder (e.g. an unpacked
    PhysioNet ``training/``), which is what a user who downloaded by hand has.
    """
    for root, source in candidates(explicit, **where):  # type: ignore[arg-type]
        for name in names:
            d = root / name
            if _has_data(d):
                return DataLocation(root, source, d)
        if source == Source.FLAG.value and _is_record_folder(root):
            return DataLocation(root.parent, source, root)
    return None


def find_dataset(name: str, explicit: str | None = None) -> DataLocation | None:
    """The first location holding dataset `name` (a non-empty folder of that name)."""
    return find_first([name], explicit)


def find_challenge(explicit: str | None = None) -> DataLocation | None:
    """Challenge records: our dev subset, else the fetched training set, in rule order."""
    return find_first(CHALLENGE_FOLDERS, explicit)


def searched(explicit: str | None = None) -> str:
    """Where we looked, for the line a run prints when nothing was found."""
    return ", ".join(f"{p} ({s})" for p, s in candidates(explicit))
