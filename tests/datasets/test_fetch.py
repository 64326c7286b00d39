"""`alarmfilter data fetch` against a real HTTP server on 127.0.0.1 serving a PhysioNet-like tree.

The server is http.server in a thread with Range support written here; it
serves copies of real challenge records (from ../shared/data, copied into
tmp_path) under ``challenge-2015/1.0.0/`` with a ``SHA256SUMS.txt``, and can
corrupt, omit or cut short chosen files.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest

from alarmfilter.cli import main
from alarmfilter.datasets.fetch import CHECKSUM_FILE, DATASETS, FetchObserver, fetch_dataset
from alarmfilter.datasets.location import CHALLENGE, find_challenge, find_dataset

RECORDS = ("a103l", "b216s", "v131l")  # a long (82,500 samples) and short records, 3 and 4 channels
BIG = "v131l.mat"
VERSION_ROOT = "challenge-2015/1.0.0"


@dataclass
class Mirror:
    url: str
    root: Path  # served files: root/challenge-2015/1.0.0/...
    source: Path  # the original records
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    drops: dict[str, list[int]] = field(default_factory=dict)  # path -> byte counts at which to drop, one per GET

    def ranged(self, name: str) -> list[str | None]:
        return [rng for path, rng in self.requests if path.endswith("/" + name)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as physionet.org does
    mirror: Mirror

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        path = unquote(self.path.split("?", 1)[0])
        rng = self.headers.get("Range")
        self.mirror.requests.append((path, rng))
        file = self.mirror.root / path.lstrip("/")
        if ".." in path or not file.is_file():
            self._reply(404, b"not found\n")
            return
        data = file.read_bytes()
        start = 0
        if rng:
            m = re.fullmatch(r"bytes=(\d+)-", rng)
            assert m, f"client sent an unexpected Range: {rng}"
            start = int(m[1])
            if start >= len(data):
                self._reply(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                return
        body = data[start:]
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cuts = self.mirror.drops.get(file.name)
        if cuts:
            cut = cuts.pop(0)
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)  # promised len(body), sent fewer: a dropped connection
            self.close_connection = True
            return
        self.wfile.write(body)

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _sums(root: Path) -> None:
    """Write SHA256SUMS.txt over every file under the version root, as PhysioNet publishes it."""
    lines = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != CHECKSUM_FILE:
            lines.append(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(root).as_posix()}\n")
    (root / CHECKSUM_FILE).write_text("".join(lines))


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Mirror]:
    loc = find_dataset(CHALLENGE)
    if loc is None:
        pytest.skip(f"../shared/data/{CHALLENGE} not found: the fetch tests serve copies of real records from it")
    src = loc.dataset(CHALLENGE)
    version = tmp_path / "www" / VERSION_ROOT
    training = version / "training"
    training.mkdir(parents=True)
    for name in RECORDS:
        for ext in (".hea", ".mat"):
            shutil.copyfile(src / f"{name}{ext}", training / f"{name}{ext}")
    (training / "RECORDS").write_text("".join(f"{n}\n" for n in RECORDS))
    alarms = [ln for ln in (src / "ALARMS").read_text().splitlines() if ln.split(",")[0] in RECORDS]
    (training / "ALARMS").write_text("".join(f"{ln}\n" for ln in alarms))
    (version / "LICENSE.txt").write_text("Open Data Commons Attribution License v1.0\n")
    (version / "papers").mkdir()
    (version / "papers" / "not-wanted.pdf").write_bytes(b"%PDF-1.4 not part of the training set")
    _sums(version)
    m = Mirror(url="", root=tmp_path / "www", source=src)
    handler = type("Handler", (_Handler,), {"mirror": m})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    m.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield m
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _fetch(mirror: Mirror, dest: Path, *extra: str) -> int:
    return main(["data", "fetch", "challenge2015", "--dest", str(dest), "--base-url", mirror.url, *extra])


def _same(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


def test_fetch_verifies_and_writes_the_records(mirror: Mirror, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from alarmfilter.datasets.challenge import load_record

    dest = tmp_path / "cache"
    assert _fetch(mirror, dest) == 0
    folder = dest / "challenge2015"
    for name in RECORDS:
        for ext in (".hea", ".mat"):
            assert _same(folder / f"{name}{ext}", mirror.source / f"{name}{ext}")
    assert (folder / "LICENSE.txt").is_file() and (folder / "RECORDS").is_file() and (folder / "ALARMS").is_file()
    assert not (folder / "not-wanted.pdf").exists(), "only the training set and the licence are fetched"
    assert not list(folder.glob("*.part"))
    _, _, fs_hz, alarm_type, label = load_record(folder / "v131l")
    assert fs_hz == 250.0 and alarm_type == "ventricular_tachycardia" and label is True
    out = capsys.readouterr().out
    assert "9 downloaded" in out and "0 failed" in out
    used = find_challenge()  # ../shared/data (or $ALARMFILTER_DATA_DIR) comes before --dest: the user is told
    assert used is not None and f"other commands will use {used.describe()} before this copy" in out

    # A second run re-verifies what is there and downloads nothing.
    mirror.requests.clear()
    assert _fetch(mirror, dest) == 0
    assert [p for p, _ in mirror.requests] == [f"/{VERSION_ROOT}/{CHECKSUM_FILE}"]
    assert "0 downloaded" in capsys.readouterr().out


def test_corrupted_file_is_refused_and_not_kept(mirror: Mirror, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    served = mirror.root / VERSION_ROOT / "training" / "b216s.mat"
    data = bytearray(served.read_bytes())
    data[5000] ^= 0xFF  # one flipped byte after the checksums were published
    served.write_bytes(bytes(data))
    dest = tmp_path / "cache"
    assert _fetch(mirror, dest) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("alarmfilter data: error: b216s.mat: SHA256 mismatch") and "file not kept" in err[0]
    folder = dest / "challenge2015"
    assert not (folder / "b216s.mat").exists() and not (folder / "b216s.mat.part").exists()
    assert _same(folder / "a103l.mat", mirror.source / "a103l.mat"), "the good files are kept"


def test_missing_file_is_a_clear_error(mirror: Mirror, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (mirror.root / VERSION_ROOT / "training" / "a103l.hea").unlink()  # listed in SHA256SUMS, gone from the server
    dest = tmp_path / "cache"
    assert _fetch(mirror, dest) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a103l.hea: not on the server (HTTP 404" in err[0], err
    assert not (dest / "challenge2015" / "a103l.hea").exists()
    assert (dest / "challenge2015" / "a103l.mat").is_file()


def test_no_checksums_no_fetch(mirror: Mirror, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (mirror.root / VERSION_ROOT / CHECKSUM_FILE).unlink()
    assert _fetch(mirror, tmp_path / "cache") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "SHA256SUMS.txt: HTTP 404" in err[0]
    assert not (tmp_path / "cache" / "challenge2015").exists()


def test_dropped_connection_leaves_a_part_file_and_the_next_run_resumes(
    mirror: Mirror, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mirror.drops[BIG] = [100_000]
    dest = tmp_path / "cache"
    assert _fetch(mirror, dest, "--retries", "0") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{BIG}: connection dropped" in err[0] and "run again to resume" in err[0], err
    part = dest / "challenge2015" / f"{BIG}.part"
    kept = part.stat().st_size  # whole chunks received before the drop (the client writes chunk by chunk)
    assert 0 < kept <= 100_000 and not (dest / "challenge2015" / BIG).exists()

    mirror.requests.clear()
    assert _fetch(mirror, dest) == 0
    assert mirror.ranged(BIG) == [f"bytes={kept}-"], "the second run asks only for the missing bytes"
    assert _same(dest / "challenge2015" / BIG, mirror.source / BIG) and not part.exists()


def test_drops_within_one_run_are_resumed(mirror: Mirror, tmp_path: Path) -> None:
    mirror.drops[BIG] = [70_000, 50_000]  # first GET stops at 70,000; the resumed one 50,000 bytes later
    report = fetch_dataset("challenge2015", tmp_path / "cache", mirror.url, retries=3, backoff_seconds=0.0)
    assert report.failed == [] and BIG in report.downloaded
    first, second, third = mirror.ranged(BIG)  # a plain GET, then two resumes from what was kept
    a, b = (int(r.removeprefix("bytes=").rstrip("-")) for r in (second, third))  # type: ignore[union-attr]
    assert first is None and 0 < a <= 70_000 and a <= b <= a + 50_000
    assert _same(tmp_path / "cache" / "challenge2015" / BIG, mirror.source / BIG)


class _InterruptAfter(FetchObserver):
    """Ctrl-C in the middle of a file, as a user would press it."""

    def __init__(self, name: str, after_bytes: int) -> None:
        self.name, self.after_bytes, self.current, self.seen = name, after_bytes, "", 0

    def file_started(self, name: str, total_bytes: int | None, done_bytes: int) -> None:
        self.current, self.seen = name, done_bytes

    def advanced(self, n_bytes: int) -> None:
        self.seen += n_bytes
        if self.current == self.name and self.seen >= self.after_bytes:
            raise KeyboardInterrupt


def test_interrupted_fetch_resumes_from_the_part_file(mirror: Mirror, tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        fetch_dataset("challenge2015", dest, mirror.url, observer=_InterruptAfter(BIG, 150_000))
    part = dest / "challenge2015" / f"{BIG}.part"
    kept = part.stat().st_size
    assert kept >= 150_000 and not (dest / "challenge2015" / BIG).exists()
    mirror.requests.clear()
    report = fetch_dataset("challenge2015", dest, mirror.url)
    assert report.failed == [] and mirror.ranged(BIG) == [f"bytes={kept}-"]
    assert _same(dest / "challenge2015" / BIG, mirror.source / BIG)


def test_stale_part_file_is_fetched_again_from_zero(mirror: Mirror, tmp_path: Path) -> None:
    folder = tmp_path / "cache" / "challenge2015"
    folder.mkdir(parents=True)
    (folder / f"{BIG}.part").write_bytes(b"\0" * 1000)  # bytes that are not the file's first 1000
    report = fetch_dataset("challenge2015", tmp_path / "cache", mirror.url, backoff_seconds=0.0)
    assert report.failed == [] and mirror.ranged(BIG) == ["bytes=1000-", None]
    assert _same(folder / BIG, mirror.source / BIG)


def test_damaged_existing_file_is_replaced(mirror: Mirror, tmp_path: Path) -> None:
    folder = tmp_path / "cache" / "challenge2015"
    folder.mkdir(parents=True)
    (folder / "a103l.hea").write_text("not the header\n")
    report = fetch_dataset("challenge2015", tmp_path / "cache", mirror.url)
    assert "a103l.hea" in report.downloaded and _same(folder / "a103l.hea", mirror.source / "a103l.hea")


def test_data_list_shows_the_fetched_folder(mirror: Mirror, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "cache"
    mirror.drops[BIG] = [10_000]
    fetch_dataset("challenge2015", dest, mirror.url, retries=0)
    capsys.readouterr()
    assert main(["data", "list", "--data", str(dest), "--verify", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    row = next(r for r in info["folders"] if r["found_via"] == "--data")
    assert row["dataset"] == "challenge2015" and row["records"] == 3 and row["partial"] == 1
    assert row["verified"].startswith("8/9 ok") and BIG in row["verified"]
    assert info["sample"]["present"] and info["sample"]["records"] >= 8


def test_unknown_dataset_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["data", "fetch", "mitdb"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_specs_point_at_physionet() -> None:
    assert DATASETS["challenge2015"].url("https://physionet.org/files") == \
        "https://physionet.org/files/challenge-2015/1.0.0/"
    assert DATASETS["bidmc"].url("https://physionet.org/files/", "SHA256SUMS.txt") == \
        "https://physionet.org/files/bidmc/1.0.0/SHA256SUMS.txt"


def test_bidmc_fetch_keeps_numerics_and_facts_only(mirror: Mirror, tmp_path: Path) -> None:
    loc = find_dataset("bidmc-numerics")
    if loc is None:
        pytest.skip("../shared/data/bidmc-numerics not found: the BIDMC fetch test serves copies of it")
    src = loc.dataset("bidmc-numerics")
    version = mirror.root / "bidmc" / "1.0.0"
    (version / "bidmc_csv").mkdir(parents=True)
    for n in ("01", "02"):
        for kind in ("Numerics.csv", "Fix.txt"):
            shutil.copyfile(src / f"bidmc_{n}_{kind}", version / "bidmc_csv" / f"bidmc_{n}_{kind}")
        (version / "bidmc_csv" / f"bidmc_{n}_Signals.csv").write_text("Time [s], RESP\n0,0.5\n")  # 125 Hz, not used
    shutil.copyfile(src / "LICENSE", version / "LICENSE")
    _sums(version)
    report = fetch_dataset("bidmc", tmp_path / "cache", mirror.url)
    folder = tmp_path / "cache" / "bidmc-numerics"
    assert report.failed == [] and sorted(report.downloaded) == [
        "LICENSE", "bidmc_01_Fix.txt", "bidmc_01_Numerics.csv", "bidmc_02_Fix.txt", "bidmc_02_Numerics.csv"]
    assert _same(folder / "bidmc_02_Numerics.csv", src / "bidmc_02_Numerics.csv")
    assert not list(folder.glob("*Signals*"))


@pytest.mark.slow
def test_fresh_machine_fetch_then_demo_uses_the_user_cache(
    mirror: Mirror, tmp_path: Path, isolated_install: Callable[..., tuple[Path, Path, dict[str, str]]]
) -> None:
    """The README path for a hospital engineer: `data fetch` into ~/.cache, then `demo` finds it there."""
    _, work, env = isolated_install(tmp_path)
    fetch = subprocess.run([sys.executable, "-m", "alarmfilter", "data", "fetch", "challenge2015",
                            "--base-url", mirror.url], check=False, cwd=work, env=env, capture_output=True,
                           text=True, timeout=120)
    assert fetch.returncode == 0, fetch.stderr
    cache = Path(env["HOME"]) / ".cache" / "alarmfilter" / "challenge2015"
    assert _same(cache / BIG, mirror.source / BIG)
    demo = subprocess.run([sys.executable, "-m", "alarmfilter", "demo", "--seconds", "600", "--beds", "3"],
                          check=False, cwd=work, env=env, capture_output=True, text=True, timeout=240)
    assert demo.returncode == 0, demo.stderr
    data_line = next(ln for ln in demo.stdout.splitlines() if ln.startswith("data: "))
    assert f"3 challenge records from {cache} (found via user cache)" in data_line
    assert "no challenge data folder" not in demo.stdout
