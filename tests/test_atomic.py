import pytest

from cxrlib.atomic import atomic_path


def test_success_replaces_the_target_and_keeps_its_suffixes(tmp_path):
    target = tmp_path / "new" / "model.weights.h5"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.endswith(".weights.h5") and tmp != target
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["model.weights.h5"]


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_records_name_files_relative_to_their_folder(tmp_path):
    import pandas as pd

    from cxrlib.atomic import relative_paths, write_csv, write_json

    run = tmp_path / "reports" / "r"
    image = str(tmp_path / "data" / "a.jpeg")
    record = {"root": str(tmp_path / "data"), "items": [image, "text"], "n": 3, "url": "https://x/y"}
    assert relative_paths(record, run) == {"root": "../../data", "items": ["../../data/a.jpeg", "text"], "n": 3,
                                           "url": "https://x/y"}
    frame = pd.DataFrame({"path": [image, ""], "label": ["NORMAL", "/ not a column of paths"]})
    written = pd.read_csv(write_csv(frame, run / "t.csv", relative_to=run), keep_default_na=False)
    assert written["path"].tolist() == ["../../data/a.jpeg", ""]
    assert written["label"].tolist() == frame["label"].tolist()
    assert str(tmp_path) not in write_json(record, run / "r.json", relative_to=run).read_text()
