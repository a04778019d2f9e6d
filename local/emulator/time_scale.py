"""Time compression for benchmarks (``timeScale``)."""

from __future__ import annotations

import json
import time
from typing import Any

from .state import Emulator


def install(emu: Emulator) -> None:
    """Compresses Wait states by ``timeScale`` and moves the clock of the copy that the waiting
    execution tracks (its input's sourceBackupId and destinationRegion) ahead by the time not
    slept, so a copy that takes hours is tracked, check for check, in seconds."""
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    original = WaitFunction._wait_interval

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        scale = float(emu.config["timeScale"])
        if scale == 1.0 or wait_seconds <= 0:
            return original(self, env, wait_seconds)
        job = env.states.context_object.context_object_data["Execution"]["Input"]
        if isinstance(job, str):
            job = json.loads(job)
        key = (str(job.get("sourceBackupId", "")), str(job.get("destinationRegion", "")))
        started = time.monotonic()
        # Returns early when the execution is stopped.
        env.program_state_event.wait(wait_seconds / scale)
        slept = time.monotonic() - started
        with emu.lock:
            emu.skipped[key] = emu.skipped.get(key, 0.0) + max(0.0, wait_seconds - slept)

    WaitFunction._wait_interval = wait_interval
