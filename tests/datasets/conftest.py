"""Shared fixture: the package installed where no data folder can be reached."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import alarmfilter
from alarmfilter.datasets import sample

Install = Callable[..., tuple[Path, Path, dict[str, str]]]


def _install(tmp_path: Path, with_sample: bool = True) -> tuple[Path, Path, dict[str, str]]:
    """A copy of the package where no data folder is reachable: not via cwd, checkout, HOME or env.

    The copy stands in for an installed package on a user's machine, so the
    ``../shared/data`` rule relative to the checkout points into tmp_path too.
    """
    site = tmp_path / "site"
    shutil.copytree(Path(alarmfilter.__file__).parent, site / "alarmfilter",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if not with_sample:
        (site / "alarmfilter" / "datasets" / "sample" / sample.SAMPLE_FILE).unlink()
    home = tmp_path / "home"
    work = tmp_path / "clone" / "work"
    home.mkdir()
    work.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALARMFILTER_") and k != "XDG_CACHE_HOME"}
    env.update(HOME=str(home), PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1")
    for d in (work, site, tmp_path / "clone"):
        assert not (d.parent / "shared" / "data").exists()
    return site, work, env


@pytest.fixture
def isolated_install() -> Install:
    """``(tmp_path, with_sample=True) -> (site, cwd, env)``: run ``python -m alarmfilter`` with cwd and env."""
    return _install
