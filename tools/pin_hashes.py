#!/usr/bin/env python3
"""Add pip's --hash pins to `name==version` lock files, in place.

Usage: python3 tools/pin_hashes.py LOCK [LOCK ...]

Every `name==version` line gets one `--hash=sha256:...` for each distribution file (wheels and
sdist) that PyPI lists for that exact version, so `pip install --require-hashes --no-deps -r LOCK`
accepts whichever file pip picks on any platform. Comment lines are kept; the first line becomes
the "how to regenerate" comment. Existing hashes are dropped and fetched again, so re-running on a
hashed file gives the same file. A version that PyPI does not list is an error: nothing is written.
"""

import json
import re
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PYPI = "https://pypi.org/pypi"
ROOT = Path(__file__).resolve().parent.parent
REGEN_PREFIX = "# Regenerate:"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9._+!-]+)$")


def regen_comment(lock: Path) -> str:
    if lock.resolve().is_relative_to(ROOT):
        lock = lock.resolve().relative_to(ROOT)
    source = lock.with_suffix(".in")
    return (f"{REGEN_PREFIX} pip install -r {source} in a fresh venv, pip freeze > {lock}"
            f" (keep these comments), then python3 tools/pin_hashes.py {lock}")


def fetch_json(url: str):
    """The decoded JSON at url, or None if PyPI answers 404."""
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return json.load(response)
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


def sha256s(name: str, version: str) -> list[str]:
    """The sha256 of every file PyPI lists for name==version, sorted."""
    project = re.sub(r"[-_.]+", "-", name).lower()
    release = fetch_json(f"{PYPI}/{project}/{version}/json")
    if release is not None:
        files = release["urls"]
    else:
        # Some PyPI mirrors serve only the per-project document; its "releases" has the same files.
        whole = fetch_json(f"{PYPI}/{project}/json")
        files = (whole or {}).get("releases", {}).get(version, [])
    digests = sorted({f["digests"]["sha256"] for f in files})
    if not digests:
        raise SystemExit(f"error: {name}=={version} has no files on PyPI")
    return digests


def parse(lock: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """(comment lines, [(name, version)]) of a lock file, with or without hashes."""
    comments, pins = [], []
    text = lock.read_text().replace("\\\n", " ")  # join continuation lines
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            if not line.startswith(REGEN_PREFIX):
                comments.append(line)
            continue
        requirement = " ".join(w for w in line.split() if not w.startswith("--hash="))
        match = PIN.match(requirement)
        if not match:
            raise SystemExit(f"error: {lock}: not a name==version line: {line!r}")
        pins.append((match[1], match[2]))
    return comments, pins


def pin(lock: Path) -> None:
    comments, pins = parse(lock)
    with ThreadPoolExecutor(max_workers=8) as pool:
        hashes = list(pool.map(lambda p: sha256s(*p), pins))
    lines = [regen_comment(lock), *comments]
    for (name, version), digests in zip(pins, hashes):
        lines.append(" \\\n".join([f"{name}=={version}", *(f"    --hash=sha256:{d}" for d in digests)]))
    lock.write_text("\n".join(lines) + "\n")
    print(f"{lock}: {len(pins)} packages, {sum(map(len, hashes))} hashes")


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit(__doc__)
    for arg in argv:
        pin(Path(arg))


if __name__ == "__main__":
    main(sys.argv[1:])
