"""Shared fixtures: the project's ../shared data folder, when this machine has it, and one tiny study run."""

from pathlib import Path

import numpy as np
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


#: The tiny synthetic study every end-to-end test shares: three arms, two seeds, the audit and an extra set.
TINY_ARMS = {"original": {}, "roi": {"roi": True}, "paper": {"clahe": True, "roi": True}}
TINY = {"synthetic_train_per_class": 12, "synthetic_test_per_class": 6, "synthetic_size": 128,
        "preprocess_size": 128, "model_input_size": 64, "epochs": 2, "batch_size": 8, "gradcam_examples": 2,
        "arms": TINY_ARMS, "seeds": [0, 1], "audit_images": 12, "audit_gradcam_images": 4}


def tiny_overrides(root: Path, *, name: str, **changes) -> dict:
    """Profile overrides of the tiny study, writing under ``root`` (an all-NORMAL extra set included)."""
    import cv2

    extra = root / "extra"
    if not extra.is_dir():
        extra.mkdir(parents=True)
        for i in range(5):  # an all-NORMAL evaluation set: the false-positive rate is what it measures
            cv2.imwrite(str(extra / f"n{i}.png"), np.full((128, 128), 60 + 20 * i, np.uint8))
    return {**TINY, "run_name": name, "reports_dir": str(root / "reports"), "work_dir": str(root / "work" / name),
            "evaluation_sets": {"more_normals": {"images": str(extra), "label": "NORMAL"}}, **changes}


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory):
    """The tiny study on the demo profile under TensorFlow, run once per test session; returns its run folder."""
    from cxrlib.run.params import load_profile
    from cxrlib.run.pipeline import run_study

    root = tmp_path_factory.mktemp("tiny")
    params = load_profile(Path(__file__).resolve().parents[1] / "params" / "demo.yaml",
                          tiny_overrides(root, name="tensorflow", keras_backend="tensorflow"))
    return run_study(params, progress=False)
