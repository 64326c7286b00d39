"""`alarmfilter data fetch challenge2015|bidmc [--dest DIR]` and `alarmfilter data list`.

A user without our ../shared/data folder fetches the public PhysioNet data
into the user cache, where every other command then finds it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from ..datasets.fetch import FetchObserver
from . import CliError

#: Folders `data list` reports, in the order it shows them.
KNOWN_FOLDERS = ("challenge2015-dev", "challenge2015", "bidmc-numerics", "mimic2-numerics")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from ..datasets.fetch import DATASETS, URL_ENV

    p = sub.add_parser("data", help="fetch the public PhysioNet datasets; list the data this machine has")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    f = dsub.add_parser("fetch", help="download a dataset, verified against its published SHA256SUMS")
    f.add_argument("dataset", choices=sorted(DATASETS), help="; ".join(f"{k}: {s.title}" for k, s in DATASETS.items()))
    f.add_argument("--dest", default=None, help="data root to write into (default: the user cache, ~/.cache/alarmfilter)")
    f.add_argument("--base-url", default=None,
                   help=f"a mirror of physionet.org/files (default: ${URL_ENV} or https://physionet.org/files)")
    f.add_argument("--retries", type=int, default=3, help="retries per file after a dropped connection (default 3)")
    f.set_defaults(func=run_fetch)

    ls = dsub.add_parser("list", help="show which data folders exist where, and which one each command uses")
    ls.add_argument("--data", default=None, help="data folder to include first, as other commands' --data")
    ls.add_argument("--verify", action="store_true", help="also check every file against the folder's SHA256SUMS.txt")
    ls.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    ls.set_defaults(func=run_list)


class _RichObserver(FetchObserver):
    """Draws one bar for the files and one for the current file's bytes (stderr, so stdout stays clean)."""

    def __init__(self, title: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=self.console, transient=False,
        )
        self.bytes_progress = Progress(
            TextColumn("  {task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            console=self.console, transient=True,
        )
        self.title = title
        self.files_task: Any = None
        self.bytes_task: Any = None
        self._group: Any = None

    def __enter__(self) -> Self:
        from rich.console import Group
        from rich.live import Live

        if not self.console.is_terminal:  # logs and pipes get the summary lines only
            return self
        self._group = Live(Group(self.progress, self.bytes_progress), console=self.console, refresh_per_second=8)
        self._group.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._group is not None:
            self._group.__exit__(*exc)

    def planned(self, n_files: int) -> None:
        self.files_task = self.progress.add_task(self.title, total=n_files)

    def file_started(self, name: str, total_bytes: int | None, done_bytes: int) -> None:
        if self.bytes_task is not None:
            self.bytes_progress.remove_task(self.bytes_task)
        self.bytes_task = self.bytes_progress.add_task(name, total=total_bytes, completed=done_bytes)

    def advanced(self, n_bytes: int) -> None:
        if self.bytes_task is not None:
            self.bytes_progress.advance(self.bytes_task, n_bytes)

    def file_done(self, name: str, status: str) -> None:
        if self.files_task is not None:
            self.progress.advance(self.files_task)

    def retrying(self, name: str, reason: str, attempt: int) -> None:
        self.console.print(f"{name}: {reason}; resuming (retry {attempt})")


def run_fetch(args: argparse.Namespace) -> int:
    from ..datasets.fetch import DATASETS, FetchError, base_url_from_env, fetch_dataset
    from ..datasets.location import CHALLENGE_FOLDERS, find_first, user_cache_dir

    if args.retries < 0:
        raise CliError("--retries must be 0 or more")
    spec = DATASETS[args.dataset]
    dest = Path(args.dest).expanduser() if args.dest else user_cache_dir()
    base_url = args.base_url or base_url_from_env()
    if dest.exists() and not dest.is_dir():
        raise CliError(f"{dest}: not a directory")
    print(f"fetching {spec.name} ({spec.title}) from {spec.url(base_url)} into {dest / spec.folder}")
    host = urlsplit(base_url).hostname or ""
    if urlsplit(base_url).scheme != "https" and host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: {base_url} is not HTTPS; its SHA256SUMS could be tampered with in transit", file=sys.stderr)
    try:
        with _RichObserver(spec.name) as observer:
            report = fetch_dataset(spec.name, dest, base_url, retries=args.retries, observer=observer)
    except FetchError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{dest}: {exc.strerror or exc}") from None
    except KeyboardInterrupt:
        print("interrupted: partial files are kept as .part; run the same command again to resume", file=sys.stderr)
        raise
    print(f"{len(report.downloaded)} downloaded ({report.bytes_downloaded} bytes), "
          f"{len(report.present)} already present, {len(report.failed)} failed: {report.dest}")
    if len(report.failed) == 1:
        raise CliError(report.failed[0][1])
    if report.failed:
        for _, reason in report.failed:
            print(reason, file=sys.stderr)
        n_total = len(report.failed) + len(report.downloaded) + len(report.present)
        raise CliError(f"{len(report.failed)} of {n_total} files failed (listed above); run again to retry them")
    loc = find_first(CHALLENGE_FOLDERS if spec.folder in CHALLENGE_FOLDERS else [spec.folder])
    if loc is not None and loc.dataset() != report.dest:
        print(f"note: other commands will use {loc.describe()} before this copy; pass --data {dest} to use it")
    return 0


#: how a dataset folder's records are counted: WFDB headers, except BIDMC (one numerics CSV per stay)
RECORD_PATTERNS = {"bidmc-numerics": "bidmc_*_Numerics.csv"}


def _folder_facts(folder: Path, verify: bool, dataset: str = "") -> dict[str, Any]:
    from ..datasets.fetch import CHECKSUM_FILE, PART_SUFFIX, parse_sha256sums, sha256_file

    files = [p for p in folder.iterdir() if p.is_file()]
    pattern = RECORD_PATTERNS.get(dataset, "*.hea")
    facts: dict[str, Any] = {
        "files": sum(1 for p in files if not p.name.endswith(PART_SUFFIX)),
        "records": sum(1 for p in files if p.match(pattern)),
        "bytes": sum(p.stat().st_size for p in files),
        "partial": sum(1 for p in files if p.name.endswith(PART_SUFFIX)),
    }
    sums_file = folder / CHECKSUM_FILE
    if verify and sums_file.is_file():
        sums = parse_sha256sums(sums_file.read_text())
        bad = [n for n, d in sums.items() if not (folder / n).is_file() or sha256_file(folder / n) != d]
        facts["verified"] = f"{len(sums) - len(bad)}/{len(sums)} ok" + (f", bad or missing: {bad[:5]}" if bad else "")
    elif verify:
        facts["verified"] = "not checked (no SHA256SUMS.txt)"
    return facts


def list_data(explicit: str | None = None, verify: bool = False) -> dict[str, Any]:
    """What data this machine has: every known folder under every rule's root, and which one is used."""
    from ..datasets import sample
    from ..datasets.location import candidates, find_challenge, find_first

    rows: list[dict[str, Any]] = []
    for root, source in candidates(explicit):
        for name in KNOWN_FOLDERS:
            d = root / name
            if d.is_dir():
                rows.append({"folder": str(d), "dataset": name, "found_via": source, **_folder_facts(d, verify, name)})
    used: dict[str, str | None] = {}
    challenge = find_challenge(explicit)
    used["challenge"] = challenge.describe() if challenge else None
    for name in ("bidmc-numerics", "mimic2-numerics"):
        loc = find_first([name], explicit)
        used[name] = loc.describe() if loc else None
    shipped = {"file": str(sample.path()), "present": sample.available()}
    if sample.available():
        shipped["records"] = len(sample.records())
        shipped["bytes"] = sample.path().stat().st_size
    return {"folders": rows, "used": used, "sample": shipped,
            "searched": [{"root": str(p), "rule": s} for p, s in candidates(explicit)]}


def run_list(args: argparse.Namespace) -> int:
    if args.data and not Path(args.data).expanduser().is_dir():
        raise CliError(f"{args.data}: no such directory")
    info = list_data(args.data, args.verify)
    if args.json:
        print(json.dumps(info))
        return 0
    from rich.console import Console

    console = Console(soft_wrap=True, highlight=False)  # paths stay whole on narrow terminals
    for r in info["folders"]:
        facts = (f"{r['files']} files, {r['records']} records, {r['bytes'] / 1e6:.1f} MB"
                 + (f", {r['partial']} partial (.part)" if r["partial"] else "")
                 + (f", checksums {r['verified']}" if "verified" in r else ""))
        console.print(f"{r['dataset']:<18} {r['folder']}  [{r['found_via']}]  {facts}", markup=False)
    if not info["folders"]:
        console.print("no data folders found")
    console.print("searched: " + ", ".join(f"{s['root']} ({s['rule']})" for s in info["searched"]))
    s = info["sample"]
    console.print(f"shipped sample: {s['file']}" + (f" ({s['records']} records, {s['bytes']} bytes)" if s["present"] else " (missing)"))
    for name, where in info["used"].items():
        console.print(f"{name}: {where or 'none; run `alarmfilter data fetch`'}")
    return 0
