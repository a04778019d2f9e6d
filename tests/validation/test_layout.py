"""The layout stays readable: each source file one idea, small enough to read in one sitting.

Function length is clippy's `too_many_lines` (threshold in clippy.toml), run by `make clippy`.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_FILE_LINES = 400


def test_no_source_file_is_over_the_limit():
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in (ROOT / "src").rglob("*.rs")
    }
    assert len(sizes) > 20, sizes
    over = {name: n for name, n in sizes.items() if n > MAX_FILE_LINES}
    assert not over, f"split these (one idea per file, at most {MAX_FILE_LINES} lines): {over}"


def test_function_length_is_enforced_by_clippy():
    assert "too-many-lines-threshold = 60" in (ROOT / "clippy.toml").read_text()
    assert 'too_many_lines = "warn"' in (ROOT / "Cargo.toml").read_text()
