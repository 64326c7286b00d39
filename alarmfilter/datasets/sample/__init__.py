"""A small real sample shipped in the package, so `alarmfilter demo` shows real waveforms offline.

The 60 s before the alarm of a dozen PhysioNet/CinC Challenge 2015 records, true
and false alarms of every type, stored as the records' own int16 samples with
their gain and baseline (nothing resampled, nothing rounded), so the physical
values equal those :func:`alarmfilter.datasets.challenge.load_record` reads
from the WFDB files.  ``python -m alarmfilter.datasets.sample build DIR``
regenerates it from a challenge record folder; ``ATTRIBUTION.md`` beside it
carries the ODC-By 1.0 attribution.

References
----------
Clifford G.D. et al. The PhysioNet/Computing in Cardiology Challenge 2015:
reducing false arrhythmia alarms in the ICU. Computing in Cardiology
2015;42:273-276.
Goldberger A.L. et al. PhysioBank, PhysioToolkit, and PhysioNet.
Circulation 2000;101(23):e215-e220.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..challenge import ChallengeRecord

SAMPLE_FILE = "challenge2015_sample.npz"
ATTRIBUTION_FILE = "ATTRIBUTION.md"
#: Seconds of signal kept before each alarm; the arrays end at the alarm.
SAMPLE_SECONDS = 60.0
#: WFDB format 16 marks a missing sample with this value.
INVALID_SAMPLE = -32768
#: Label shown in a run's output when the sample is the data source.
SOURCE = "shipped sample"


#: A shipped record has the fields of a record read from a folder; its arrays end at the alarm.
SampleRecord = ChallengeRecord


def path() -> Path:
    """The shipped sample file (inside the installed package)."""
    return Path(str(resources.files(__name__).joinpath(SAMPLE_FILE)))


def available() -> bool:
    return path().is_file()


def to_physical(digital: npt.NDArray[np.int16], gain: float, baseline: int) -> npt.NDArray[np.float64]:
    """WFDB digital -> physical units; the format's invalid value becomes NaN.

    >>> to_physical(np.array([200, -32768, 0], dtype=np.int16), gain=200.0, baseline=0)
    array([ 1., nan,  0.])
    """
    x = (digital.astype(np.float64) - baseline) / gain
    x[digital == INVALID_SAMPLE] = np.nan
    return x


def manifest(npz: Any) -> list[dict[str, Any]]:
    """Per-record metadata stored in the sample (channels, gains, alarm, label, source checksums)."""
    meta: list[dict[str, Any]] = json.loads(str(npz["manifest"]))
    return meta


def records(file: str | Path | None = None) -> list[SampleRecord]:
    """Every sample record, alarm at the end of each array, in the sample's order."""
    with np.load(path() if file is None else file, allow_pickle=False) as npz:
        out: list[SampleRecord] = []
        for m in manifest(npz):
            digital = npz[m["name"]]
            signals: dict[str, npt.NDArray[np.float64]] = {}
            units: dict[str, str] = {}
            for j, ch in enumerate(m["channels"]):
                signals[ch] = to_physical(digital[j], float(m["gain"][j]), int(m["baseline"][j]))
                units[ch] = str(m["units"][j])
            out.append(SampleRecord(m["name"], signals, units, float(m["fs_hz"]), m["alarm_type"], m["label"]))
    return out
