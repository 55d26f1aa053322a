"""Shared fixtures: the project's ../shared data folder, when this machine has it."""

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared; the calling test is skipped when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not on this machine (only this project's machines have ../shared)")
    return path


@pytest.fixture
def shared_dir() -> Path:
    return shared_path()
