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
