"""Per copied backup, on the real state machine: state transitions, check-copy invocations,
history events and detection delay for copies that take 1, 10, 30 and 120 minutes, under the
schedule the template ships and under alternatives, measured in one run.

How time is compressed: the emulator's ``timeScale`` makes each Wait state sleep 1/scale of its
seconds and moves the clock of the copy that execution tracks ahead by the rest (see
local/moto_ext.py), and ``copyDelays`` gives each source backup its copy time. Everything else
(Lambda invocations through cargo lambda watch, DescribeBackups, state transitions) runs at real
speed, as it would in AWS. Detection delay is measured on the copy's clock: from the moment the
copy is READY to the first DescribeBackups that reports it READY. That depends on where in a wait
the copy happens to finish, so the worst case is printed too: the wait in which it finished.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stack import ACCOUNT, SOURCE_REGION, Stack, local_substitutions, render_definition, wait_until

MINUTES = (1, 10, 30, 120)
TIME_SCALE = float(os.environ.get("BENCH_TIME_SCALE", "600"))
DESTINATION = "us-west-2"
# Step Functions Standard list price per state transition (USD; us-east-1, beyond the free tier).
PRICE_PER_TRANSITION = 0.000025
HISTORY_LIMIT = 25_000
POLICY_KEYS = ("InitialWaitSeconds", "MaxWaitSeconds", "BackoffPercent", "DeadlineSeconds", "MaxCopyAttempts", "VisibilityGraceSeconds")


class _TemplateLoader(yaml.SafeLoader):
    """Reads template.yaml, keeping CloudFormation's short-form tags (!Ref, !Sub...) as plain values."""


_TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def template_policy(root: Path) -> dict[str, str]:
    """The poll loop's defaults as the template ships them."""
    params = yaml.load((root / "template.yaml").read_text(), Loader=_TemplateLoader)["Parameters"]
    return {key: str(params[key]["Default"]) for key in POLICY_KEYS}


def schedules(chosen: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """The shipped schedule and the alternatives it is compared with (same deadline and attempts)."""

    def variant(initial: int, backoff: int, cap: int) -> dict[str, str]:
        return {**chosen, "InitialWaitSeconds": str(initial), "BackoffPercent": str(backoff), "MaxWaitSeconds": str(cap)}

    def label(policy: dict[str, str]) -> str:
        if policy["BackoffPercent"] == "100":
            return f"every {policy['InitialWaitSeconds']} s"
        return f"{policy['InitialWaitSeconds']} s x{int(policy['BackoffPercent']) / 100:g} <= {policy['MaxWaitSeconds']} s"

    candidates = [chosen, variant(60, 100, 60), variant(300, 100, 300), variant(60, 200, 1800)]
    return [(label(p) + (" (shipped)" if p is chosen else ""), p) for p in candidates]


@dataclass
class CopyRun:
    schedule: str
    minutes: int
    status: str
    checks: int
    check_invocations: int
    transitions: int
    history_events: int
    detection_delay: float
    # The wait that ended with the detecting check: a copy finishing anywhere in it is noticed
    # at most this late, so this is the delay whatever the copy's exact finishing moment.
    worst_delay: int


def history(sfn: Any, execution_arn: str) -> list[dict]:
    events: list[dict] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def entered(events: list[dict], state: str | None = None) -> int:
    """State transitions (what Step Functions bills): states entered, optionally one state's."""
    return sum(
        1
        for e in events
        if e["type"].endswith("StateEntered") and (state is None or e.get("stateEnteredEventDetails", {}).get("name") == state)
    )


def lambda_invocations(events: list[dict], function: str) -> int:
    return sum(
        1
        for e in events
        if e["type"] == "LambdaFunctionScheduled" and e["lambdaFunctionScheduledEventDetails"]["resource"].endswith(f":function:{function}")
    )


def last_wait(events: list[dict]) -> int:
    waits = [e for e in events if e["type"] == "WaitStateEntered"]
    if not waits:
        return 0
    return int(json.loads(waits[-1]["stateEnteredEventDetails"]["input"])["loop"]["waitSeconds"])


def measure(stack: Stack, root: Path) -> tuple[list[CopyRun], dict[str, str]]:
    """Runs one execution per (schedule, copy time), all at once; returns their figures."""
    chosen = template_policy(root)
    sfn = stack.client("stepfunctions")
    # cargo lambda watch builds and starts a function on its first invoke: do that now, not
    # while the measured copies' clocks run (both answers are InvalidInput errors).
    for function in ("start-copy", "copy-step", "check-copy"):
        stack.invoke(function, {"action": "warm-up"} if function == "start-copy" else {})
    planned: list[tuple[str, int, str, str, str]] = []  # schedule, minutes, state machine, cluster, backup
    delays: dict[str, float] = {}
    for i, (label, policy) in enumerate(schedules(chosen)):
        arn = sfn.create_state_machine(
            name=f"bench-schedule-{i}",
            definition=render_definition(root, local_substitutions(policy)),
            roleArn=stack.deployment.get_att("CopyTrackerRole", "Arn"),
            type="STANDARD",
        )["stateMachineArn"]
        for minutes in MINUTES:
            cluster_id, backup_id = stack.create_cluster()
            delays[backup_id] = minutes * 60
            planned.append((label, minutes, arn, cluster_id, backup_id))
    stack.control("POST", "config", {"timeScale": TIME_SCALE, "copyDelays": delays})
    runs: list[tuple[str, int, str, str]] = []  # schedule, minutes, execution, backup
    for label, minutes, arn, cluster_id, backup_id in planned:
        # The job exactly as start-copy writes it (src/tracking.rs, CopyJob).
        job = {
            "sourceBackupId": backup_id,
            "sourceClusterId": cluster_id,
            "sourceRegion": SOURCE_REGION,
            "destinationRegion": DESTINATION,
            "priorCopies": 0,
        }
        execution = sfn.start_execution(stateMachineArn=arn, name=f"{backup_id}-to-{DESTINATION}-0", input=json.dumps(job, separators=(",", ":")))
        runs.append((label, minutes, execution["executionArn"], backup_id))

    def finished() -> bool:
        return all(sfn.describe_execution(executionArn=arn)["status"] != "RUNNING" for _, _, arn, _ in runs)

    wait_until("the benchmark's tracking executions", finished, timeout=900, interval=1.0)
    calls = {c["backupId"]: c for c in stack.control("GET", "calls")["copyBackupToRegion"]}
    results = []
    for label, minutes, arn, backup_id in runs:
        events = history(sfn, arn)
        call = calls.get(backup_id)
        seen = call and call["seenFinalAt"]
        results.append(
            CopyRun(
                schedule=label,
                minutes=minutes,
                status=sfn.describe_execution(executionArn=arn)["status"],
                checks=entered(events, "CheckCopy"),
                check_invocations=lambda_invocations(events, "check-copy"),
                transitions=entered(events),
                history_events=len(events),
                detection_delay=(seen - call["finalAt"]) if seen else float("nan"),
                worst_delay=last_wait(events),
            )
        )
    return results, chosen


def deadline_projection(root: Path, chosen: dict[str, str], runs: list[CopyRun]) -> tuple[int, float, int, int]:
    """A copy that never turns READY runs to the deadline. Its number of checks comes from the
    real decision function (examples/poll_schedule.rs); the history events per check are the
    ones measured above on the shipped schedule. Returns (checks, events per check, projected
    events, the example's own event count)."""
    shipped = sorted((r for r in runs if r.schedule.endswith("(shipped)")), key=lambda r: r.checks)
    short, long = shipped[0], shipped[-1]
    per_check = (long.history_events - short.history_events) / (long.checks - short.checks)
    fixed = short.history_events - per_check * short.checks
    out = subprocess.run(
        [
            "cargo", "run", "--quiet", "--locked", "--release", "--example", "poll_schedule", "--",
            chosen["InitialWaitSeconds"], chosen["MaxWaitSeconds"], chosen["BackoffPercent"], chosen["DeadlineSeconds"],
        ],
        cwd=root, check=True, capture_output=True, text=True, timeout=600,
    ).stdout
    found = re.search(r"never READY \(runs to the deadline\): (\d+) checks, \d+ transitions, (\d+) history events", out)
    if not found:
        raise RuntimeError(f"unexpected poll_schedule output: {out[-300:]}")
    checks, simulated = int(found.group(1)), int(found.group(2))
    # The deadline check adds a failure announcement instead of a success one: same event count.
    return checks, per_check, round(fixed + per_check * checks), simulated


def report(say: Any, root: Path, stack: Stack) -> None:
    started = time.monotonic()
    runs, chosen = measure(stack, root)
    say(
        f"per copied backup, real state machine and functions (time scale {TIME_SCALE:g}x, "
        f"{time.monotonic() - started:.0f} s for {len(runs)} executions):"
    )
    say(
        f"{'schedule':<30} {'copy':>8} {'checks':>6} {'check-copy':>10} {'transitions':>11} {'history':>7} "
        f"{'detection delay':>15} {'of copy':>7} {'worst case':>10} {'of copy':>7} {'$ / 1,000 copies':>16}"
    )
    for r in runs:
        share, worst_share = (100 * d / (r.minutes * 60) for d in (r.detection_delay, r.worst_delay))
        say(
            f"{r.schedule:<30} {r.minutes:>4} min {r.checks:>6} {r.check_invocations:>10} {r.transitions:>11} "
            f"{r.history_events:>7} {r.detection_delay:>13.0f} s {share:>6.0f}% {r.worst_delay:>8} s {worst_share:>6.0f}% {r.transitions * PRICE_PER_TRANSITION * 1000:>16.2f}"
            + ("" if r.status == "SUCCEEDED" else f"  {r.status}")
        )
    checks, per_check, projected, simulated = deadline_projection(root, chosen, runs)
    say(
        f"never READY, shipped schedule, to the {int(chosen['DeadlineSeconds']) // 3600} h deadline: {checks} checks x "
        f"{per_check:.0f} history events per check (measured) = {projected:,} events, "
        f"{100 * projected / HISTORY_LIMIT:.1f}% of the {HISTORY_LIMIT:,} limit (decision-function simulation: {simulated:,})"
    )
