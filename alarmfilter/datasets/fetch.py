"""Download the public PhysioNet datasets into the data layout `location` searches, verified file by file.

Every file is checked against the dataset's published ``SHA256SUMS.txt``
before it takes its final name, so a folder this module wrote holds only
verified files.  Bytes arrive in ``NAME.part``; an interrupted or dropped
download resumes from there with an HTTP ``Range`` request.  A file whose
checksum does not match is deleted and reported, never kept.

No UI here: progress goes to a :class:`FetchObserver` the CLI renders.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .location import BIDMC, CHALLENGE_FETCHED

PHYSIONET_FILES_URL = "https://physionet.org/files"
#: Environment variable naming a mirror of ``physionet.org/files`` (same layout).
URL_ENV = "ALARMFILTER_PHYSIONET_URL"
CHECKSUM_FILE = "SHA256SUMS.txt"
PART_SUFFIX = ".part"
CHUNK_BYTES = 64 * 1024
TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """One PhysioNet project version and the files of it we keep, flattened into `folder`."""

    name: str  # CLI name
    slug: str  # physionet.org/files/<slug>/<version>/
    version: str
    folder: str  # folder under the data root, as location.py looks for it
    include: tuple[str, ...]  # fnmatch patterns on SHA256SUMS paths
    title: str

    def url(self, base_url: str, path: str = "") -> str:
        return f"{base_url.rstrip('/')}/{self.slug}/{self.version}/{path}"


DATASETS: dict[str, DatasetSpec] = {
    "challenge2015": DatasetSpec(
        "challenge2015", "challenge-2015", "1.0.0", CHALLENGE_FETCHED,
        ("training/*", "LICENSE*"),
        "PhysioNet/CinC Challenge 2015 training set (750 alarm records, ODC-By 1.0)",
    ),
    "bidmc": DatasetSpec(
        "bidmc", "bidmc", "1.0.0", BIDMC,
        ("bidmc_csv/bidmc_*_Numerics.csv", "bidmc_csv/bidmc_*_Fix.txt", "LICENSE*"),
        "BIDMC PPG and Respiration Dataset: 1 Hz numerics and patient facts of 53 ICU stays",
    ),
}


class FetchError(Exception):
    """A file could not be fetched; the message is one line naming the file and why."""


class ChecksumMismatch(FetchError):
    """The bytes received are not the published ones; the file was deleted."""


@dataclass(frozen=True, slots=True)
class FileTask:
    remote: str  # path in SHA256SUMS, relative to the dataset version root
    local: str  # file name in the local folder
    sha256: str


@dataclass(slots=True)
class FetchReport:
    dest: Path
    downloaded: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)  # already there and verified
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, one-line reason)
    bytes_downloaded: int = 0


class FetchObserver:
    """Progress callbacks; the default ignores them (the CLI draws a rich progress bar)."""

    def planned(self, n_files: int) -> None: ...
    def file_started(self, name: str, total_bytes: int | None, done_bytes: int) -> None: ...
    def advanced(self, n_bytes: int) -> None: ...
    def file_done(self, name: str, status: str) -> None: ...
    def retrying(self, name: str, reason: str, attempt: int) -> None: ...


def parse_sha256sums(text: str) -> dict[str, str]:
    """``SHA256SUMS.txt`` (sha256sum format) -> {relative path: hex digest}.

    >>> parse_sha256sums("ab12  training/a103l.hea\\ncd34 *RECORDS\\n\\n")
    {'training/a103l.hea': 'ab12', 'RECORDS': 'cd34'}
    """
    sums: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        digest, _, name = line.strip().partition(" ")
        sums[name.strip().lstrip("*")] = digest.lower()
    return sums


def plan(spec: DatasetSpec, sums: dict[str, str]) -> list[FileTask]:
    """The files of `spec` listed in `sums`, flattened to their base names.

    >>> spec = DATASETS["challenge2015"]
    >>> [t.local for t in plan(spec, {"training/a1.hea": "x", "papers/p.pdf": "y", "LICENSE.txt": "z"})]
    ['a1.hea', 'LICENSE.txt']
    """
    tasks: list[FileTask] = []
    seen: dict[str, str] = {}
    for remote, digest in sums.items():
        if not any(fnmatch.fnmatchcase(remote, pat) for pat in spec.include):
            continue
        local = PurePosixPath(remote).name
        if local in seen or local in ("", ".", "..") or local == CHECKSUM_FILE:
            raise FetchError(f"{CHECKSUM_FILE}: {remote} collides with {seen.get(local, local)}")
        seen[local] = remote
        tasks.append(FileTask(remote, local, digest))
    return tasks


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def base_url_from_env() -> str:
    return os.environ.get(URL_ENV) or PHYSIONET_FILES_URL


class Fetcher:
    """Downloads with one keep-alive HTTP session; resumes `.part` files; verifies before renaming."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        retries: int = 3,
        backoff_seconds: float = 1.0,
        timeout_seconds: float = TIMEOUT_SECONDS,
        observer: FetchObserver | None = None,
    ) -> None:
        import requests

        self.base_url = base_url or base_url_from_env()
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self.observer = observer or FetchObserver()
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "alarmfilter-data-fetch"

    def close(self) -> None:
        self.session.close()

    def checksums(self, spec: DatasetSpec) -> dict[str, str]:
        """The dataset's published checksums; without them nothing can be verified, so nothing is fetched."""
        import requests

        url = spec.url(self.base_url, CHECKSUM_FILE)
        try:
            r = self.session.get(url, timeout=self.timeout_seconds)
        except requests.RequestException as exc:
            raise FetchError(f"{CHECKSUM_FILE}: cannot reach {url}: {_one_line(exc)}") from None
        if r.status_code != 200:
            raise FetchError(f"{CHECKSUM_FILE}: HTTP {r.status_code} from {url}")
        sums = parse_sha256sums(r.text)
        if not sums:
            raise FetchError(f"{CHECKSUM_FILE}: empty or not in sha256sum format ({url})")
        return sums

    def fetch(self, spec: DatasetSpec, dest_root: Path) -> FetchReport:
        """Fetch every file of `spec` into ``dest_root/spec.folder``; failures are collected, not raised."""
        sums = self.checksums(spec)
        tasks = plan(spec, sums)
        if not tasks:
            raise FetchError(f"{CHECKSUM_FILE} at {spec.url(self.base_url)} lists no file of {spec.name}")
        folder = dest_root / spec.folder
        folder.mkdir(parents=True, exist_ok=True)
        # Our own checksum list, in local names, so `data list --verify` can check the folder later.
        (folder / CHECKSUM_FILE).write_text("".join(f"{t.sha256}  {t.local}\n" for t in tasks))
        report = FetchReport(folder)
        self.observer.planned(len(tasks))
        for task in tasks:
            final = folder / task.local
            if final.is_file():
                if sha256_file(final) == task.sha256:
                    report.present.append(task.local)
                    self.observer.file_done(task.local, "present")
                    continue
                final.unlink()  # a stale or damaged copy: fetch it again rather than keep bad bytes
            try:
                report.bytes_downloaded += self.download(spec.url(self.base_url, task.remote), final, task.sha256)
            except FetchError as exc:
                report.failed.append((task.local, str(exc)))
                self.observer.file_done(task.local, "failed")
                continue
            report.downloaded.append(task.local)
            self.observer.file_done(task.local, "downloaded")
        return report

    def download(self, url: str, final: Path, sha256: str) -> int:
        """Fetch `url` to `final` via `final.part`, resuming; returns bytes received. Raises FetchError."""
        part = final.with_name(final.name + PART_SUFFIX)
        received = 0
        fresh_retry_done = False
        attempt = 0
        while True:
            try:
                received += self._get_into(url, part, final.name)
            except _Transient as exc:
                if attempt >= self.retries:
                    raise FetchError(
                        f"{final.name}: {exc} after {attempt + 1} attempts; "
                        f"{part.stat().st_size if part.exists() else 0} bytes kept in {part.name}, run again to resume"
                    ) from None
                attempt += 1
                self.observer.retrying(final.name, str(exc), attempt)
                time.sleep(self.backoff_seconds * attempt)
                continue
            got = sha256_file(part)
            if got == sha256:
                os.replace(part, final)
                return received
            resumed = received < part.stat().st_size
            part.unlink()
            if resumed and not fresh_retry_done:  # a stale .part from another run: try once from zero
                fresh_retry_done = True
                continue
            raise ChecksumMismatch(
                f"{final.name}: SHA256 mismatch (expected {sha256[:12]}…, got {got[:12]}…); file not kept"
            )

    def _get_into(self, url: str, part: Path, name: str) -> int:
        """One GET, appending to `part` from its current size; returns bytes written."""
        import requests

        offset = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        written = 0
        try:
            with self.session.get(url, headers=headers, stream=True, timeout=self.timeout_seconds) as r:
                if r.status_code == 416 and offset:  # nothing after offset: the .part may be complete
                    return 0
                if r.status_code in (404, 410):
                    raise FetchError(f"{name}: not on the server (HTTP {r.status_code} from {url})")
                if r.status_code >= 500:
                    raise _Transient(f"HTTP {r.status_code}")
                if r.status_code not in (200, 206):
                    raise FetchError(f"{name}: HTTP {r.status_code} from {url}")
                if r.status_code == 206 and not r.headers.get("Content-Range", "").startswith(f"bytes {offset}-"):
                    raise _Transient(f"server answered a different range ({r.headers.get('Content-Range')})")
                if r.status_code == 200:
                    offset = 0  # server ignored Range: start over
                length = r.headers.get("Content-Length")
                total = offset + int(length) if length and length.isdigit() else None
                self.observer.file_started(name, total, offset)
                with open(part, "ab" if offset else "wb") as f:
                    for chunk in r.iter_content(CHUNK_BYTES):
                        f.write(chunk)
                        written += len(chunk)
                        self.observer.advanced(len(chunk))
                if total is not None and offset + written != total:
                    raise _Transient(f"connection dropped at byte {offset + written} of {total}")
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            raise _Transient(f"connection dropped ({_one_line(exc)})") from None
        return written


class _Transient(Exception):
    """Worth another try with Range: dropped connection, timeout, 5xx."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 160 else text[:157] + "..."


def fetch_dataset(
    name: str,
    dest_root: Path,
    base_url: str | None = None,
    *,
    retries: int = 3,
    backoff_seconds: float = 1.0,
    observer: FetchObserver | None = None,
) -> FetchReport:
    """Fetch dataset `name` (a key of DATASETS) into `dest_root`; see :class:`Fetcher`."""
    if name not in DATASETS:
        raise FetchError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)})")
    fetcher = Fetcher(base_url, retries=retries, backoff_seconds=backoff_seconds, observer=observer)
    try:
        return fetcher.fetch(DATASETS[name], dest_root)
    finally:
        fetcher.close()
