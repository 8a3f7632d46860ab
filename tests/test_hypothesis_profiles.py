"""Derandomized examples must not depend on which other modules a process imported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

DRAW = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    if sys.argv[2] == "with-local-module":
        import local_constants_mod  # a local module full of constants
    from hypothesis import given, strategies as st
    from grader.grading.hypothesis_profiles import load_profile

    load_profile("grade")
    seen = []

    @given(st.integers(), st.floats(allow_nan=False), st.text(max_size=3))
    def draw(i, f, s):
        seen.append([i, f, s])

    draw()
    print(json.dumps(seen))
    """
)


def drawn(folder: Path, mode: str) -> list:
    result = subprocess.run(
        [sys.executable, "-c", DRAW, str(folder), mode],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_examples_are_the_same_whatever_local_modules_are_loaded(tmp_path):
    constants = ", ".join(str(987_650 + k) for k in range(40))
    floats = ", ".join(f"{k}.123456789" for k in range(40))
    (tmp_path / "local_constants_mod.py").write_text(
        f"INTS = [{constants}]\nFLOATS = [{floats}]\nWORDS = ['zebra', 'quokka', 'axolotl']\n"
    )
    plain = drawn(tmp_path, "plain")
    assert len(plain) == 25
    assert drawn(tmp_path, "with-local-module") == plain
    assert not (tmp_path / ".hypothesis").exists()
