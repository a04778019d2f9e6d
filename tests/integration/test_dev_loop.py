"""The README's "Running one function locally" works as written: its commands, taken from the
README itself, run against a `make stack` started here."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

from stack import wait_until

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- local-run:[^>]*-->\s*```\n(.*?)```", text, re.S)
    assert block, "the README's local-run block is missing"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_local_run_commands_work(tmp_path):
    commands = readme_commands()
    assert commands[0] == "make stack" and all(c.startswith("make invoke ") for c in commands[1:]), commands
    # As a person runs them at a prompt, not as a sub-make of `make test` (which would print
    # "Entering/Leaving directory" lines around the answers).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    env["STACK_DIR"] = str(tmp_path)
    log = open(tmp_path / "make-stack.log", "wb")  # noqa: SIM115 - closed below
    stack = subprocess.Popen(commands[0].split(), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until("make stack to be ready", lambda: "ready:" in (tmp_path / "make-stack.log").read_text(errors="replace"), timeout=240)
        session = json.loads((tmp_path / "session.json").read_text())
        assert set(session["functions"]) == {"start-copy", "copy-step", "check-copy", "share-copy", "restore-drill"}
        answers = []
        for command in commands[1:]:
            result = subprocess.run(command.split(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-2000:])
            answer, _ = json.JSONDecoder().raw_decode(result.stdout[result.stdout.index("{"):])
            answers.append(answer)
        # The named backup does not exist in the fresh stack: skipped as NOT_FOUND, no error.
        assert answers[0]["skippedCounts"] == {"NOT_FOUND": 1}, answers[0]
        # It looked in the destination and found no copy (the example's clock is long past, so
        # its deadline decides what comes next).
        assert (answers[1]["check"]["state"], answers[1]["check"]["copiesSeen"]) == ("NOT_VISIBLE", 0), answers[1]
        assert answers[2]["ignored"].startswith("a CopyBackupToRegion call"), answers[2]
        # No cluster yet: the drill plan starts nothing, deletes nothing, and says so.
        assert answers[3] == {"started": [], "skipped": [], "orphansDeleted": [], "orphansWaiting": []}, answers[3]

        # Stopping it (SIGTERM, not Ctrl-C's SIGINT: a shell ignores SIGINT in background jobs,
        # as CI may run us; the stack stops on either) removes the session. make may exit
        # before the stack has finished stopping, so the check waits, bounded.
        os.killpg(stack.pid, signal.SIGTERM)
        stack.wait(timeout=60)
        wait_until("the stopped stack to remove its session", lambda: not (tmp_path / "session.json").exists(), timeout=60)
        # Without a running stack, invoke says so instead of hanging.
        gone = subprocess.run(commands[1].split(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert gone.returncode != 0 and "no local stack is running" in gone.stderr, gone.stderr
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait(timeout=10)
        log.close()
