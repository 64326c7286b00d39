"""Data location rules, each pinned with real folders in tmp_path (no monkeypatched filesystem)."""

from __future__ import annotations

from pathlib import Path

from alarmfilter.datasets.location import (
    CHALLENGE,
    CHALLENGE_FETCHED,
    ENV_VAR,
    DataLocation,
    Source,
    candidates,
    find_first,
    user_cache_dir,
)


def _dataset(root: Path, name: str = CHALLENGE) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "RECORDS").write_text("a103l\n")
    return d


def _where(tmp_path: Path, **env: str) -> dict:
    """An isolated world: cwd and checkout inside tmp_path, HOME-less cache under tmp_path."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), **env}
    return {"environ": env, "cwd": tmp_path / "repo", "repo_root": tmp_path / "repo"}


def test_order_is_flag_env_shared_cache(tmp_path: Path) -> None:
    where = _where(tmp_path, **{ENV_VAR: str(tmp_path / "env")})
    sources = [s for _, s in candidates(str(tmp_path / "flag"), **where)]
    assert sources == ["--data", ENV_VAR, "../shared/data", "user cache"]


def test_each_rule_wins_over_the_later_ones(tmp_path: Path) -> None:
    where = _where(tmp_path, **{ENV_VAR: str(tmp_path / "env")})
    roots = {
        Source.CACHE: tmp_path / "cache" / "alarmfilter",
        Source.SHARED: tmp_path / "shared" / "data",
        Source.ENV: tmp_path / "env",
        Source.FLAG: tmp_path / "flag",
    }
    for source, root in roots.items():  # add rules from last to first: the newest must win
        _dataset(root)
        loc = find_first([CHALLENGE], str(tmp_path / "flag"), **where)
        assert loc is not None and loc.source == source.value and loc.dataset(CHALLENGE) == root / CHALLENGE


def test_nothing_found_is_none(tmp_path: Path) -> None:
    assert find_first([CHALLENGE], None, **_where(tmp_path)) is None


def test_empty_dataset_folder_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "shared" / "data" / CHALLENGE).mkdir(parents=True)
    cache = _dataset(tmp_path / "cache" / "alarmfilter", CHALLENGE_FETCHED)
    loc = find_first([CHALLENGE, CHALLENGE_FETCHED], None, **_where(tmp_path))
    assert loc is not None and loc.source == "user cache" and loc.dataset() == cache


def test_data_flag_may_name_the_record_folder_itself(tmp_path: Path) -> None:
    training = tmp_path / "Downloads" / "training"
    training.mkdir(parents=True)
    (training / "a103l.hea").write_text("a103l 3 250 82500\n")
    loc = find_first([CHALLENGE], str(training), **_where(tmp_path))
    assert loc is not None and loc.dataset() == training and loc.source == "--data"
    assert loc.describe() == f"{training} (found via --data)"


def test_user_cache_defaults_to_home(tmp_path: Path) -> None:
    assert user_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "alarmfilter"
    assert user_cache_dir({}) == Path.home() / ".cache" / "alarmfilter"


def test_describe_names_the_rule() -> None:
    loc = DataLocation(Path("/x"), Source.ENV.value, Path("/x/challenge2015"))
    assert loc.describe() == "/x/challenge2015 (found via ALARMFILTER_DATA_DIR)"


def test_interrupted_first_fetch_does_not_count_as_data(tmp_path: Path) -> None:
    d = tmp_path / "cache" / "alarmfilter" / CHALLENGE_FETCHED
    d.mkdir(parents=True)
    (d / "SHA256SUMS.txt").write_text("ab  a103l.hea\n")
    (d / "a103l.hea.part").write_text("a103l 3")
    assert find_first([CHALLENGE_FETCHED], None, **_where(tmp_path)) is None
    (d / "RECORDS").write_text("a103l\n")
    assert find_first([CHALLENGE_FETCHED], None, **_where(tmp_path)) is not None
