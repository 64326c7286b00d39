"""Strip charts as clinicians read them, drawn as SVG in plain Python (no plotting library).

ECG is drawn on the standard grid at a fixed paper speed and gain (25 mm/s, 10 mm/mV), pressures
on a fixed mmHg range, so a flat or damped line looks flat or damped instead of being autoscaled
into a normal-looking wave. Every sample is a vertex at its exact position: a trace can be read
back into the samples it was drawn from (`data-*` attributes give the mapping), which is how the
tests check that the picture shows the input. Values outside a channel's band are clipped by the
band, not moved.

The SVG's width and height are in millimetres, so at 100 % zoom a browser shows 25 mm per second.
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MM_PER_SECOND = 25.0
ECG_MM_PER_MV = 10.0
ECG_BAND_MM = 30.0  # +/- 1.5 mV around the lead's median
PRESSURE_BAND_MM = 40.0
OTHER_BAND_MM = 20.0
LABEL_MM = 22.0
AXIS_MM = 7.0

#: Fixed ranges of pressure channels, mmHg (bottom, top): ABP as monitors show it by default.
PRESSURE_RANGES_MMHG = {"ABP": (0.0, 200.0), "ART": (0.0, 200.0), "PAP": (0.0, 80.0), "CVP": (0.0, 40.0),
                        "ICP": (0.0, 40.0)}
DEFAULT_PRESSURE_RANGE_MMHG = (0.0, 200.0)
#: Channels in arbitrary units (pleth, respiration): fixed per strip, never narrower than this span,
#: so a probe off the finger (noise of a few thousandths) stays a flat line.
MIN_SPAN_NU = 1.0


@dataclass(frozen=True, slots=True)
class Scale:
    """How one channel maps to the page: y_mm = ref_y_mm - (value - ref_value) * mm_per_unit."""

    kind: str  # "ecg" | "pressure" | "other"
    mm_per_unit: float
    ref_value: float
    band_mm: float
    gridlines: tuple[float, ...] = ()  # values with a labelled line (pressure)

    @property
    def label(self) -> str:
        if self.kind == "ecg":
            return f"{self.mm_per_unit:g} mm/mV"
        if self.kind == "pressure":
            return f"{self.gridlines[0]:g}-{self.gridlines[-1]:g}"
        return f"span {self.band_mm / self.mm_per_unit:.3g}"


def channel_scale(name: str, unit: str, x: npt.NDArray[np.float64]) -> Scale:
    """The fixed scale of a channel: ECG by its unit (mV), pressures by theirs (mmHg), others by span.

    >>> channel_scale("II", "mV", np.zeros(10)).mm_per_unit
    10.0
    >>> s = channel_scale("ABP", "mmHg", np.array([17.0, 18.0]))
    >>> s.mm_per_unit, s.ref_value
    (0.2, 0.0)
    >>> s = channel_scale("PLETH", "NU", np.array([0.5, 0.502]))  # probe off: the band still spans >= 1 NU
    >>> round(s.band_mm / s.mm_per_unit, 2)
    1.2
    """
    finite = x[np.isfinite(x)]
    unit_l = unit.lower()
    if unit_l in ("mv", "uv", "µv"):
        factor = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3}[unit_l]
        mid = float(np.median(finite)) if finite.size else 0.0
        return Scale("ecg", ECG_MM_PER_MV * factor, mid, ECG_BAND_MM)
    if unit_l in ("mmhg", "mm hg"):
        lo, hi = PRESSURE_RANGES_MMHG.get(name.upper(), DEFAULT_PRESSURE_RANGE_MMHG)
        step = 50.0 if hi > 100 else 20.0 if hi > 40 else 10.0
        lines = tuple(float(v) for v in np.arange(lo, hi + step / 2, step))
        return Scale("pressure", PRESSURE_BAND_MM / (hi - lo), lo, PRESSURE_BAND_MM, lines)
    if finite.size:
        lo, hi = (float(v) for v in np.percentile(finite, [1, 99]))
    else:
        lo = hi = 0.0
    span = max(hi - lo, MIN_SPAN_NU)
    mid = (lo + hi) / 2.0
    return Scale("other", OTHER_BAND_MM / (span * 1.2), mid - span * 0.6, OTHER_BAND_MM)


def _runs(finite: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, stop) of each run of True.

    >>> _runs(np.array([True, True, False, True]))
    [(0, 2), (3, 4)]
    """
    edges = np.diff(np.concatenate([[0], finite.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


#: Trace coordinates are integers in micrometres (a vertex per sample: integers format ~10x faster
#: than floats); 1 um is 0.0001 mV of ECG, 0.005 mmHg of ABP.
UNITS_PER_MM = 1000


def _points(xs: npt.NDArray[np.float64], ys: npt.NDArray[np.float64]) -> str:
    """`x y x y ...` in micrometres.

    >>> _points(np.array([22.0, 22.1]), np.array([21.0, 10.99951]))
    '22000 21000 22100 11000'
    """
    pts = np.empty(2 * len(xs), dtype=np.int64)
    pts[0::2] = np.rint(xs * UNITS_PER_MM)
    pts[1::2] = np.rint(ys * UNITS_PER_MM)
    return " ".join(map(str, pts.tolist()))


def render_strip(
    signals: Mapping[str, Sequence[float | None] | npt.NDArray[np.float64]],
    units: Mapping[str, str],
    fs_hz: float,
    start_ts: float,
    alarm_ts: float,
    used_until_ts: float | None = None,
    title: str = "",
) -> str:
    """An SVG strip of every channel from `start_ts` (time of the first sample); the alarm is a red
    line; data after `used_until_ts` (what the decision could not use) is on a grey background.

    >>> svg = render_strip({"II": [0.0, 1.0, None, 0.5]}, {"II": "mV"}, 250.0, 100.0, 100.008)
    >>> 'points="22000 21000 22100 11000"' in svg, 'data-first-sample="3" points="22300 16000"' in svg
    (True, True)
    """
    arrays = {k: np.asarray([np.nan if v is None else v for v in s] if not isinstance(s, np.ndarray) else s,
                            dtype=np.float64) for k, s in signals.items()}
    n = max((len(a) for a in arrays.values()), default=0)
    seconds = n / fs_hz if n else 0.0
    width = LABEL_MM + max(seconds, 1.0) * MM_PER_SECOND + 2.0
    scales = {k: channel_scale(k, units.get(k, ""), a) for k, a in arrays.items()}
    height = sum(s.band_mm + 2.0 for s in scales.values()) + AXIS_MM
    x0 = LABEL_MM
    # ids unique per strip: a page (the evaluate report) holds many, and ids are page-wide
    uid = "s" + hashlib.blake2s(f"{title}|{start_ts!r}|{alarm_ts!r}|{list(arrays)}".encode(), digest_size=5).hexdigest()
    parts = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" class="strip" width="{width:.1f}mm" height="{height:.1f}mm" '
         f'viewBox="0 0 {width:.2f} {height:.2f}" data-fs-hz="{fs_hz:g}" data-start-ts="{start_ts!r}" '
         f'data-alarm-ts="{alarm_ts!r}" data-mm-per-s="{MM_PER_SECOND:g}" data-x0-mm="{x0:g}" '
         f'data-trace-units-per-mm="{UNITS_PER_MM}" role="img" '
         f'aria-label="{html.escape(title or "strip chart")}">'),
        (f'<defs><pattern id="{uid}-minor" width="1" height="1" patternUnits="userSpaceOnUse">'
         '<path d="M 1 0 L 0 0 0 1" fill="none" stroke="#f6c6c6" stroke-width="0.08"/></pattern>'
         f'<pattern id="{uid}-grid" width="5" height="5" patternUnits="userSpaceOnUse">'
         f'<rect width="5" height="5" fill="url(#{uid}-minor)"/>'
         '<path d="M 5 0 L 0 0 0 5" fill="none" stroke="#e58f8f" stroke-width="0.18"/></pattern></defs>'),
        f'<rect x="0" y="0" width="{width:.2f}" height="{height:.2f}" fill="#fff"/>',
    ]
    plot_w = seconds * MM_PER_SECOND
    y = 0.0
    for i, (name, x) in enumerate(arrays.items()):
        s = scales[name]
        top, band = y + 1.0, s.band_mm
        ref_y = top + band / 2.0 if s.kind == "ecg" else top + band  # ECG about its median, others from the bottom
        clip = f"{uid}-band{i}"
        unit = units.get(name, "")
        parts.append(
            f'<g class="channel" data-channel="{html.escape(name)}" data-unit="{html.escape(unit)}" '
            f'data-kind="{s.kind}" data-mm-per-unit="{s.mm_per_unit!r}" data-ref-value="{s.ref_value!r}" '
            f'data-ref-y-mm="{ref_y!r}">'
            f'<clipPath id="{clip}"><rect x="{x0}" y="{top:.2f}" width="{plot_w:.2f}" height="{band:.2f}"/></clipPath>'
        )
        fill = f"url(#{uid}-grid)" if s.kind == "ecg" else "#fbfbfb"
        parts.append(f'<rect x="{x0}" y="{top:.2f}" width="{plot_w:.2f}" height="{band:.2f}" fill="{fill}" '
                     'stroke="#bbb" stroke-width="0.15"/>')
        for v in s.gridlines:
            gy = ref_y - (v - s.ref_value) * s.mm_per_unit
            parts.append(f'<line x1="{x0}" x2="{x0 + plot_w:.2f}" y1="{gy:.2f}" y2="{gy:.2f}" stroke="#d5d5d5" '
                         f'stroke-width="0.15"/><text x="{x0 - 0.8}" y="{gy + 0.9:.2f}" font-size="2.4" '
                         f'text-anchor="end" fill="#777">{v:g}</text>')
        parts.append(f'<text x="1" y="{top + 4:.2f}" font-size="3.6" font-weight="bold">{html.escape(name)}</text>'
                     f'<text x="1" y="{top + 8:.2f}" font-size="2.4" fill="#555">{html.escape(unit)}</text>'
                     f'<text x="1" y="{top + 11:.2f}" font-size="2.4" fill="#555">{html.escape(s.label)}</text>')
        parts.append(f'<g clip-path="url(#{clip})"><g transform="scale({1 / UNITS_PER_MM:g})" fill="none" '
                     f'stroke="#111" stroke-width="{0.25 * UNITS_PER_MM:g}" stroke-linejoin="round">')
        idx = np.arange(len(x), dtype=np.float64)
        xs_all = x0 + idx / fs_hz * MM_PER_SECOND
        ys_all = ref_y - (x - s.ref_value) * s.mm_per_unit
        for a, b in _runs(np.isfinite(x)):
            parts.append(f'<polyline class="trace" data-first-sample="{a}" points="{_points(xs_all[a:b], ys_all[a:b])}"/>')
        parts.append("</g></g></g>")
        y = top + band + 1.0
    # shading after the data the decision could use, the alarm mark, the time axis
    if used_until_ts is not None and used_until_ts < start_ts + seconds:
        sx = x0 + max(used_until_ts - start_ts, 0.0) * MM_PER_SECOND
        parts.append(f'<rect class="unused" x="{sx:.2f}" y="0" width="{x0 + plot_w - sx:.2f}" height="{y:.2f}" '
                     'fill="#888" fill-opacity="0.18"/>')
    ax = x0 + (alarm_ts - start_ts) * MM_PER_SECOND
    parts.append(f'<line class="alarm-mark" x1="{ax:.2f}" x2="{ax:.2f}" y1="0" y2="{y + 1:.2f}" stroke="#d00" '
                 f'stroke-width="0.5"/><text x="{ax + 0.8:.2f}" y="{y + 5:.2f}" font-size="3" fill="#d00">alarm</text>')
    first = math.ceil(start_ts - alarm_ts)
    for k in range(first, math.floor(start_ts + seconds - alarm_ts) + 1):
        tx = ax + k * MM_PER_SECOND
        if x0 <= tx <= x0 + plot_w and k != 0:
            parts.append(f'<line x1="{tx:.2f}" x2="{tx:.2f}" y1="{y:.2f}" y2="{y + 1.5:.2f}" stroke="#555" '
                         f'stroke-width="0.2"/><text x="{tx:.2f}" y="{y + 4.5:.2f}" font-size="2.6" '
                         f'text-anchor="middle" fill="#555">{k:+d} s</text>')
    parts.append("</svg>")
    return "".join(parts)
