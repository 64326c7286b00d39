"""The strip renderer: every sample is a vertex at its place, at a fixed scale; flat stays flat."""

from __future__ import annotations

import re

import numpy as np

from alarmfilter.review.strip import ECG_MM_PER_MV, MM_PER_SECOND, render_strip

FS = 250.0


def _read(svg: str) -> dict[str, dict[int, float]]:
    """Invert the drawing: channel -> sample index -> value, from the SVG's own data attributes."""
    x0 = float(re.search(r'data-x0-mm="([^"]+)"', svg).group(1))
    fs = float(re.search(r'data-fs-hz="([^"]+)"', svg).group(1))
    out: dict[str, dict[int, float]] = {}
    for g in re.finditer(r'<g class="channel" data-channel="([^"]+)".*?data-mm-per-unit="([^"]+)" '
                         r'data-ref-value="([^"]+)" data-ref-y-mm="([^"]+)">(.*?)</g></g></g>', svg, re.DOTALL):
        name, per, ref_v, ref_y, body = g.group(1), *map(float, g.group(2, 3, 4)), g.group(5)
        drawn = out.setdefault(name, {})
        for pts in re.findall(r'points="([^"]*)"', body):
            v = [int(u) / 1000 for u in pts.split()]
            for x, y in zip(v[0::2], v[1::2]):
                drawn[round((x - x0) / MM_PER_SECOND * fs)] = ref_v + (ref_y - y) / per
    return out


def _span_mm(svg: str, channel: str) -> float:
    body = re.search(rf'data-channel="{channel}".*?</g></g></g>', svg, re.DOTALL).group(0)
    ys = [int(v) / 1000 for pts in re.findall(r'points="([^"]*)"', body) for v in pts.split()[1::2]]
    return max(ys) - min(ys)


def test_the_drawn_samples_are_the_input_samples() -> None:
    rng = np.random.default_rng(0)
    ecg = rng.normal(0, 0.4, 4000)
    abp = 80 + 40 * np.sin(np.arange(4000) / 40)
    ecg[100:150] = np.nan  # a gap stays a gap
    svg = render_strip({"II": ecg, "ABP": abp}, {"II": "mV", "ABP": "mmHg"}, FS, 1000.0, 1016.0)
    got = _read(svg)
    for name, x in (("II", ecg), ("ABP", abp)):
        idx = np.flatnonzero(np.isfinite(x))
        assert sorted(got[name]) == idx.tolist()
        per = ECG_MM_PER_MV if name == "II" else 0.2
        assert np.allclose([got[name][i] for i in idx], x[idx], atol=0.00051 / per)


def test_ecg_is_at_25_mm_per_second_and_10_mm_per_mv_whatever_the_amplitude() -> None:
    t = np.arange(int(4 * FS)) / FS
    small = 0.1 * np.sin(2 * np.pi * t)
    large = 2.0 * np.sin(2 * np.pi * t)  # (clipped by the band, not rescaled)
    s_small = render_strip({"II": small}, {"II": "mV"}, FS, 0.0, 2.0)
    s_large = render_strip({"II": large}, {"II": "mV"}, FS, 0.0, 2.0)
    assert abs(_span_mm(s_small, "II") - 2.0) < 0.01  # 0.2 mV peak to peak = 2 mm
    assert abs(_span_mm(s_large, "II") - 40.0) < 0.01
    assert 'width="124.0mm"' in s_small  # 4 s x 25 mm/s + labels


def test_a_flat_or_damped_line_looks_flat_or_damped() -> None:
    rng = np.random.default_rng(1)
    n = int(16 * FS)
    probe_off = 0.5 + 0.002 * rng.standard_normal(n)  # a pleth with the probe off the finger
    damped = 17.5 + 0.5 * np.sin(np.arange(n) / 30)  # a damped arterial line, 17-18 mmHg
    normal = 90 + 30 * np.sin(np.arange(n) / 30)
    asystole = np.zeros(n)
    svg = render_strip({"II": asystole, "PLETH": probe_off, "ABP": damped}, {"II": "mV", "PLETH": "NU", "ABP": "mmHg"},
                       FS, 0.0, 16.0)
    assert _span_mm(svg, "II") == 0.0
    assert _span_mm(svg, "PLETH") < 0.5  # of a 20 mm band (autoscaled, this noise filled all of it)
    assert _span_mm(svg, "ABP") <= 0.2 + 1e-9  # 1 mmHg of the fixed 0-200 mmHg range on 40 mm
    normal_svg = render_strip({"ABP": normal}, {"ABP": "mmHg"}, FS, 0.0, 16.0)
    assert _span_mm(normal_svg, "ABP") > 11.9  # 60 mmHg on the same scale


def test_the_alarm_is_marked_and_unused_data_shaded() -> None:
    svg = render_strip({"II": np.zeros(int(20 * FS))}, {"II": "mV"}, FS, 100.0, 116.0, used_until_ts=117.0)
    x = float(re.search(r'class="alarm-mark" x1="([^"]+)"', svg).group(1))
    assert x == 22.0 + 16 * MM_PER_SECOND
    assert float(re.search(r'class="unused" x="([^"]+)"', svg).group(1)) == 22.0 + 17 * MM_PER_SECOND
