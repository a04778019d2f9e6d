"""The first sweep after deploying over a fleet, end to end: 1,001 READY backups (143 clusters x 7
days) x 3 destination regions, nothing copied yet, through the real state machine and the real
functions, under API rate limits (CloudHSM 5 requests/s per region, StartExecution 25/s) and the
shipped poll schedule on a compressed clock (copies take 30 emulated minutes).

Sweeps run back to back, as the hourly schedule would (each admits MAX_COPIES_IN_FLIGHT copies per
region and defers the rest), until every copy is READY and no execution runs. Reported: the wall
time, the floor the rate limits impose on the calls that cannot be avoided (one
CopyBackupToRegion per copy, all through the source region's CloudHSM bucket) and their ratio,
copies, duplicates, failed executions and failure events, and the calls made per bucket.

`make bench-fleet` (also part of `make bench`); BENCH_FLEET_CLUSTERS scales it down.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

from per_copy import template_policy
from stack import SOURCE_REGION, Stack, schedule_event, wait_until

ROOT = Path(__file__).resolve().parents[1]
REGIONS = ("us-west-2", "eu-west-1", "ap-southeast-2")
CLUSTERS = int(os.environ.get("BENCH_FLEET_CLUSTERS", "143"))
PER_CLUSTER = 7
CLOUDHSM_PER_SECOND = 5.0
START_EXECUTION_PER_SECOND = 25.0
TIME_SCALE = 600.0
COPY_SECONDS = 1800.0


def run(say: Callable[[str], None]) -> None:
    backups = CLUSTERS * PER_CLUSTER
    copies = backups * len(REGIONS)
    env = {"DESTINATION_REGIONS": ",".join(REGIONS), "RUST_LOG": "warn"}
    with Stack.started(ROOT, release=True, policy=template_policy(ROOT), function_env=env, log_dir=ROOT / ".stack" / "bench-logs") as stack:
        stack.control("POST", "seed", {"clusters": CLUSTERS, "backups": backups, "everyHours": 24, "copyTo": []})
        stack.control("POST", "config", {
            "timeScale": TIME_SCALE,
            "copyDelaySeconds": COPY_SECONDS,
            "rateLimits": [
                {"service": "cloudhsm", "operation": "*", "perSecond": CLOUDHSM_PER_SECOND, "burst": CLOUDHSM_PER_SECOND},
                {"service": "states", "operation": "StartExecution", "perSecond": START_EXECUTION_PER_SECOND, "burst": START_EXECUTION_PER_SECOND},
            ],
        })
        stack.control("POST", "requests")
        started = time.monotonic()
        sweeps: list[dict[str, Any]] = []

        def sweep_until_settled() -> bool:
            summary, error = stack.invoke("start-copy", schedule_event(f"sweep-{len(sweeps)}"), timeout=600)
            if error:
                raise RuntimeError(f"sweep {len(sweeps)} failed: {str(summary)[:300]}")
            sweeps.append(summary)
            return summary["skippedCounts"].get("ALREADY_COPIED", 0) == copies

        wait_until("every copy READY", sweep_until_settled, timeout=4 * 3600, interval=5)
        runs = stack.wait_for_executions(len(stack.executions()), timeout=3600)
        wall = time.monotonic() - started
        counts = stack.control("GET", "requests")["counts"]
        limited = stack.control("GET", "faults")
        stack.control("POST", "config", {"rateLimits": []})
        calls = stack.control("GET", "calls")["copyBackupToRegion"]
        events = stack.announcements(wait=5)

    per_pair: dict[tuple[str, str], int] = {}
    for call in calls:
        key = (call["backupId"], call["destinationRegion"])
        per_pair[key] = per_pair.get(key, 0) + 1
    duplicates = sum(n - 1 for n in per_pair.values())
    failed = [r for r in runs if r["status"] != "SUCCEEDED"]
    failure_events = [e for e in events if e["detail-type"] == "CloudHSM Backup Copy Failed"]
    floor = len(per_pair) / CLOUDHSM_PER_SECOND
    source_calls = sum(per.get(SOURCE_REGION, 0) for op, per in counts.items() if op.startswith("cloudhsm:"))
    say(f"first sweep end to end: {backups:,} backups x {len(REGIONS)} regions, CloudHSM {CLOUDHSM_PER_SECOND:g}/s per region, "
        f"StartExecution {START_EXECUTION_PER_SECOND:g}/s, copies of {COPY_SECONDS / 60:.0f} min at x{TIME_SCALE:g}")
    say(f"  copies READY {len(per_pair):,} of {copies:,}, duplicates {duplicates}, failed executions {len(failed)}, "
        f"failure events {len(failure_events)}, sweeps {len(sweeps)}, deferred {sum(s['skippedCounts'].get('DEFERRED', 0) for s in sweeps):,}")
    say(f"  wall {wall:.0f} s; floor {floor:.0f} s ({len(per_pair):,} CopyBackupToRegion at {CLOUDHSM_PER_SECOND:g}/s in {SOURCE_REGION}); "
        f"ratio {wall / floor:.2f}")
    # The busiest bucket: every call the run made (checks included) had to pass the limits.
    buckets = {f"cloudhsm {region}": n / CLOUDHSM_PER_SECOND for region, n in
               ((r, sum(per.get(r, 0) for op, per in counts.items() if op.startswith("cloudhsm:"))) for r in (SOURCE_REGION, *REGIONS))}
    buckets["StartExecution"] = sum(counts.get("states:StartExecution", {}).values()) / START_EXECUTION_PER_SECOND
    busiest = max(buckets, key=buckets.get)
    say(f"  CloudHSM calls in {SOURCE_REGION}: {source_calls:,}; busiest bucket {busiest}: floor {buckets[busiest]:.0f} s for the "
        f"calls made, ratio {wall / buckets[busiest]:.2f}; throttled {sum(v for k, v in limited.items() if k.endswith(':rateLimit')):,}")
    by_op = {op: sum(per.values()) for op, per in counts.items()}
    say("  calls by operation: " + ", ".join(f"{op} {n:,}" for op, n in sorted(by_op.items())))
    if failed or failure_events or duplicates or len(per_pair) != copies:
        raise RuntimeError("the first sweep lost, duplicated or failed copies (see above)")


if __name__ == "__main__":
    run(print)
