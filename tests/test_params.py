from pathlib import Path

import pytest

from cxrlib.run.params import ProfileError, StudyParams, load_profile, parse_overrides

PARAMS = Path(__file__).resolve().parents[1] / "params"


def write(tmp_path, text):
    path = tmp_path / "profile.yaml"
    path.write_text(text)
    return path


def test_demo_profile_loads():
    params = load_profile(PARAMS / "demo.yaml")
    assert params.data_dir is None and params.run_name == "demo"


@pytest.mark.parametrize("name", ["kermany224.yaml", "kermany.yaml", "paper.yaml", "paper224-gpu.yaml"])
def test_real_data_profiles_are_valid_apart_from_local_paths(name, tmp_path):
    params = load_profile(PARAMS / name, {"data_dir": str(tmp_path), "weights": "none", "lungmask_dir": None,
                                          "evaluation_sets": {}})
    assert params.data_dir == str(tmp_path.resolve())


def test_user_profiles_point_nowhere_outside_the_repository():
    for profile in ("demo.yaml", "kermany.yaml", "paper.yaml"):
        assert "../" not in (PARAMS / profile).read_text(), profile


def test_missing_folders_are_refused_with_the_fix(tmp_path):
    with pytest.raises(ProfileError, match=r"--set lungmask_dir=null"):
        load_profile(write(tmp_path, "lungmask_dir: no/such/masks\n"))
    with pytest.raises(ProfileError, match=r"evaluation_sets=\{\}"):
        load_profile(write(tmp_path, "evaluation_sets:\n  more: {images: no/such/dir, label: NORMAL}\n"))


def test_evaluation_set_paths_are_resolved_where_the_profile_is_read(tmp_path, monkeypatch):
    (tmp_path / "normals").mkdir()
    monkeypatch.chdir(tmp_path)
    params = StudyParams(evaluation_sets={"more": {"images": "normals", "label": "NORMAL"}})
    assert params.evaluation_sets["more"].images == str(tmp_path / "normals")


def test_unknown_key_is_refused_with_suggestion_and_known_keys(tmp_path):
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, "epoch: 3\n"))
    message = str(info.value)
    assert "unknown key 'epoch'" in message and "did you mean 'epochs'" in message
    assert "known keys:" in message and "model_input_size" in message


@pytest.mark.parametrize(
    ("text", "key"),
    [("epochs: ten\n", "epochs"), ("epochs: 0\n", "epochs"), ("model_input_size: 64\n", "model_input_size"),
     ("train_mode: fast\n", "train_mode"), ("roi_mean_filter: 20\n", "roi_mean_filter"),
     ("val_fraction: 0.9\n", "val_fraction"), ("data_dir: /no/such/folder\n", "data_dir"),
     ("weights: /no/such/file.h5\n", "weights"), ("run_name: 'a b/c'\n", "run_name")],
)
def test_wrong_type_or_range_names_key_and_value(tmp_path, text, key):
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, text))
    assert f"key {key!r}" in str(info.value)
    assert "value" in str(info.value)


def test_missing_and_malformed_profiles(tmp_path):
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(tmp_path / "nope.yaml")
    with pytest.raises(ProfileError, match="mapping"):
        load_profile(write(tmp_path, "- a\n- b\n"))


def test_overrides_are_yaml_scalars_and_validated(tmp_path):
    assert parse_overrides(["epochs=3", "data_dir=null", "augment=false"]) == {
        "epochs": 3, "data_dir": None, "augment": False}
    with pytest.raises(ProfileError, match="key=value"):
        parse_overrides(["epochs"])
    with pytest.raises(ProfileError, match="unknown key 'epochz'"):
        load_profile(write(tmp_path, "epochs: 2\n"), parse_overrides(["epochz=3"]))


def test_weights_path_is_resolved(tmp_path):
    weights = tmp_path / "x.weights.h5"
    weights.write_bytes(b"")
    assert StudyParams(weights=str(weights)).weights == str(weights.resolve())


def test_default_folders_are_absolute_so_notebooks_in_the_run_folder_share_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = StudyParams()
    assert params.work_dir == str(tmp_path / "data" / "work")
    assert params.reports_dir == str(tmp_path / "reports")


def test_arms_seeds_backbone_and_default_comparisons(tmp_path):
    params = load_profile(write(tmp_path, (
        "arms:\n  original: {}\n  clahe: {clahe: true}\n  roi: {roi: true}\n  paper: {clahe: true, roi: true}\n"
        "seeds: [0, 1, 2]\nbackbone: small_cnn\nweights: none\ntrain_mode: finetune\n")))
    assert list(params.arms) == ["original", "clahe", "roi", "paper"]
    assert params.arms["paper"].clahe and params.arms["paper"].roi and not params.arms["clahe"].roi
    assert params.seeds == [0, 1, 2]
    # every arm against original, then each step's own effect: the crop on equalized images, CLAHE on crops
    assert params.comparisons() == [("clahe", "original"), ("roi", "original"), ("paper", "original"),
                                    ("paper", "clahe"), ("paper", "roi")]
    dumped = params.model_dump()["arms"]
    assert dumped["roi"] == {"clahe": False, "roi": True}  # papermill receives plain dicts
    explicit = StudyParams(arms={"a": {}, "b": {"roi": True}}, compare=[["b", "a"]])
    assert explicit.comparisons() == [("b", "a")]
    assert StudyParams(arms={"a": {}, "b": {"roi": True}}).comparisons() == [("b", "a")]  # no 'original': first arm


@pytest.mark.parametrize(("text", "expected"), [
    ("arms:\n  paper: {clahe: true, crop: true}\n", "arm 'paper': unknown key 'crop'"),
    ("arms:\n  paper: {clahe: yes-please}\n", "key 'arms.paper.clahe'"),
    ("arms: {}\n", "key 'arms'"),
    ("arms:\n  '1st': {}\n", "arm names"),
    ("seeds: [0, 0]\n", "key 'seeds'"),
    ("seeds: []\n", "key 'seeds'"),
    ("backbone: resnet\n", "key 'backbone'"),
    ("compare: [[paper, nope]]\n", "key 'compare'"),
    ("backbone: small_cnn\nweights: imagenet\ntrain_mode: finetune\n", "key 'weights'"),
    ("backbone: small_cnn\nweights: none\ntrain_mode: frozen\n", "key 'train_mode'"),
    ("model_input_size: 64\n", "key 'model_input_size'"),
])
def test_arm_and_shape_refusals_name_the_key(tmp_path, text, expected):
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, text))
    assert expected in str(info.value)


def test_preprocessing_ranges_are_declared_once():
    from cxrlib.preprocess import PREPROCESS_RANGES, PreprocessConfig

    for key in ("preprocess_size", "clahe_clip_limit", "clahe_tile_grid", "roi_margin", "roi_mean_filter"):
        low, high = PREPROCESS_RANGES[key]
        schema = StudyParams.model_fields[key].metadata
        assert any(getattr(m, "le", None) == high for m in schema), key
        assert any(getattr(m, "ge", None) == low for m in schema) or key == "clahe_clip_limit", key
        with pytest.raises(ValueError):
            PreprocessConfig(**{key: high + 1 if isinstance(high, int) else high * 2})
    assert StudyParams().augment is False
    from cxrlib.models import TrainSettings
    assert TrainSettings().augment is StudyParams().augment
