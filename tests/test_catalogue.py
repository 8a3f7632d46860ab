"""The catalogue loader: every problem names the file, the field and what to do."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kata_factory import write_kata

from grader.catalogue.katas import CatalogueError, find_root, load_catalogue, load_kata


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(CatalogueError) as error:
        load_kata(folder)
    return error.value.problems


@pytest.fixture
def kata(tmp_path) -> Path:
    return write_kata(tmp_path, "good", "good_stats")


def edit_toml(folder: Path, old: str, new: str) -> Path:
    toml = folder / "kata.toml"
    assert old in toml.read_text()
    toml.write_text(toml.read_text().replace(old, new))
    return toml


def test_a_valid_kata_loads(kata):
    loaded = load_kata(kata)
    assert (loaded.id, loaded.topic, loaded.files) == ("good", "metrics", ("good_stats.py",))
    assert loaded.test_ids == (
        "test_good_stats.py::test_mean_of_four",
        "test_good_stats.py::test_spread",
    )
    assert loaded.private_dir == kata.parent.parent / "grader" / "private" / "good"


def test_unknown_topic_names_file_field_and_choices(kata):
    toml = edit_toml(kata, 'topic = "metrics"', 'topic = "metric"')
    (problem,) = problems_of(kata)
    assert problem.startswith(f"{toml}: topic: 'metric' is not one of")
    assert "'metrics'" in problem


def test_difficulty_out_of_range(kata):
    toml = edit_toml(kata, "difficulty = 1", "difficulty = 4")
    assert problems_of(kata) == [f"{toml}: difficulty: 4 is greater than the maximum of 3"]


def test_misspelt_field_lists_the_allowed_ones(kata):
    edit_toml(kata, "budget_minutes", "budget_mins")
    found = problems_of(kata)
    assert any("budget_mins" in p and "allowed fields:" in p for p in found)
    assert any("'budget_minutes' is a required property" in p for p in found)


def test_bad_toml_is_reported_with_the_parser_message(kata):
    toml = edit_toml(kata, "difficulty = 1", "difficulty = ")
    (problem,) = problems_of(kata)
    assert problem.startswith(f"{toml}: not valid TOML:")


def test_id_must_match_the_folder(kata):
    toml = edit_toml(kata, 'id = "good"', 'id = "other"')
    (problem,) = problems_of(kata)
    assert problem.startswith(f"{toml}: id: 'other' differs from the folder name 'good'")


def test_malformed_test_id(kata):
    edit_toml(kata, '"test_good_stats.py::test_spread"', '"test_good_stats.py:test_spread"')
    (problem,) = problems_of(kata)
    assert "tests.pass_to_pass.0" in problem
    assert "is not a test id like 'test_module.py::test_name'" in problem


def test_declared_tests_must_exist_and_every_test_must_be_declared(kata):
    toml = edit_toml(kata, "::test_spread", "::test_spreads")
    assert problems_of(kata) == [
        f"{toml}: tests: test_good_stats.py defines no test named 'test_spreads'",
        f"{toml}: tests: test_good_stats.py::test_spread is not listed; add it to "
        "fail_to_pass or pass_to_pass",
    ]


def test_editable_file_must_exist(kata):
    (kata / "good_stats.py").unlink()
    toml = kata / "kata.toml"
    assert problems_of(kata) == [f"{toml}: files: 'good_stats.py' does not exist in {kata}"]


def test_module_names_must_be_unique_across_katas(tmp_path):
    write_kata(tmp_path, "first", "shared_stats")
    write_kata(tmp_path, "second", "shared_stats")
    with pytest.raises(CatalogueError) as error:
        load_catalogue(tmp_path)
    assert any(
        "module name 'shared_stats' is also used by kata 'first'" in p for p in error.value.problems
    )


def test_all_problems_of_all_katas_are_reported_at_once(tmp_path):
    one = write_kata(tmp_path, "one", "one_stats")
    two = write_kata(tmp_path, "two", "two_stats")
    edit_toml(one, "difficulty = 1", "difficulty = 0")
    edit_toml(two, "budget_minutes = 5", "budget_minutes = 500")
    with pytest.raises(CatalogueError) as error:
        load_catalogue(tmp_path)
    assert [p.split(":")[0] for p in error.value.problems] == [
        str(one / "kata.toml"),
        str(two / "kata.toml"),
    ]


def test_root_is_found_from_a_subfolder_and_kata_root_overrides(tmp_path, monkeypatch):
    folder = write_kata(tmp_path / "repo", "good", "good_stats")
    monkeypatch.delenv("KATA_ROOT", raising=False)
    assert find_root(folder) == tmp_path / "repo"
    monkeypatch.setenv("KATA_ROOT", str(tmp_path))
    with pytest.raises(CatalogueError, match="no katas/ folder there"):
        find_root(folder)


def test_a_git_format_patch_applies_inside_a_repository_subfolder(tmp_path):
    """`git diff --relative=katas/<id>` writes `diff --git` headers; inside a repository
    `git apply` would read those paths from the repository's root, skip them as outside
    the folder, and still exit 0."""
    from kata_factory import git

    from grader.catalogue import patches

    folder = tmp_path / "katas" / "k"
    folder.mkdir(parents=True)
    (folder / "m.py").write_text("x = 1\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "k")
    (folder / "m.py").write_text("x = 2\n")
    diff = git(tmp_path, "diff", "--relative=katas/k") + "\n"
    assert diff.startswith("diff --git a/m.py b/m.py")
    git(tmp_path, "checkout", "--", "katas/k/m.py")
    patch = tmp_path / "fix.patch"
    patch.write_text("Fix: two.\n\n" + diff)
    assert patches.apply(patch, folder).returncode == 0
    assert (folder / "m.py").read_text() == "x = 2\n"


# --- hints: their count is public, their text is private material ---------------------

REAL_ROOT = Path(__file__).resolve().parent.parent


def test_hints_live_in_the_private_material_and_only_their_count_in_the_kata():
    import tomllib

    for loaded in load_catalogue(REAL_ROOT):
        data = tomllib.loads((loaded.path / "kata.toml").read_text())
        assert "hints" not in data, loaded.id
        private = tomllib.loads((loaded.private_dir / "hints.toml").read_text())
        hints = private.get("hints") or [
            hint for fault in loaded.faults for hint in private["faults"][fault.name]["hints"]
        ]
        assert data["hint_count"] == loaded.hint_count == len(hints) >= 1
        assert loaded.hints == tuple(hints)
        public = "".join(
            p.read_text()
            for p in loaded.path.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        )
        assert not [hint for hint in hints if hint in public], loaded.id


def test_a_hint_count_that_differs_from_the_private_hints_is_a_problem(kata):
    edit_toml(kata, "hint_count = 1", "hint_count = 2")
    assert any("hint_count" in p and "hints.toml" in p for p in problems_of(kata))


def test_without_the_private_hints_the_count_stays_and_the_texts_are_unavailable(kata):
    (kata.parent.parent / "grader" / "private" / "good" / "hints.toml").unlink()
    loaded = load_kata(kata)
    assert (loaded.hint_count, loaded.hints) == (1, ())


def test_a_kata_found_valid_is_checked_again_when_its_private_hints_change(kata):
    (kata.parent.parent / ".git").mkdir()  # where the digests of valid katas are kept
    load_kata(kata)  # valid: remembered
    hints = kata.parent.parent / "grader" / "private" / "good" / "hints.toml"
    hints.write_text('hints = ["Count the values.", "Divide by the count."]\n')
    assert any("hint_count" in p and "hints.toml" in p for p in problems_of(kata))


def test_an_unchanged_kata_is_taken_as_it_was_and_any_edit_is_read_again(kata, monkeypatch):
    """`kata list` reads no file of a kata whose folder is unchanged since it was found
    valid (its stamp: each file's size and modification time); an edit of the same size
    changes the stamp all the same, and is read."""
    import tomllib

    from grader.catalogue import katas

    (kata.parent.parent / ".git").mkdir()  # where valid katas are remembered
    assert load_kata(kata).budget_minutes == 5
    katas._stamps.cache_clear()
    katas._known_good.cache_clear()

    def unread(text: str):
        raise AssertionError("kata.toml was parsed again")

    with monkeypatch.context() as patched:
        patched.setattr(tomllib, "loads", unread)
        assert load_kata(kata).budget_minutes == 5
    toml = kata / "kata.toml"
    before = toml.read_text()
    time.sleep(0.01)  # a later modification time, whatever the file system's resolution
    toml.write_text(before.replace("budget_minutes = 5", "budget_minutes = 6"))
    assert len(toml.read_text()) == len(before)
    katas._stamps.cache_clear()
    assert load_kata(kata).budget_minutes == 6
