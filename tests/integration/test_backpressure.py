"""Backpressure under API rate limits and a cap on copies in progress: sweeps admit at most
MAX_COPIES_IN_FLIGHT copies per region and defer the rest, throttled calls are retried long
enough, throttled checks are missed checks, and nothing fails, is lost or is duplicated."""

from stack import DESTINATION_REGIONS, schedule_event, wait_until

REGIONS = list(DESTINATION_REGIONS)
LIMITS = {
    "rateLimits": [
        {"service": "cloudhsm", "operation": "*", "perSecond": 5, "burst": 5},
        {"service": "states", "operation": "StartExecution", "perSecond": 5, "burst": 5},
    ],
    "maxCopiesInProgress": 4,
}


def test_sweeps_under_rate_limits_copy_everything_a_few_at_a_time(make_stack):
    stack = make_stack(copy_delay=2.0, function_env={"MAX_COPIES_IN_FLIGHT": "4"})
    backups = [stack.create_cluster()[1] for _ in range(12)]
    stack.control("POST", "config", LIMITS)
    sweeps, deferred, most_started, last = 0, 0, 0, {}

    def sweep_until_settled():
        nonlocal sweeps, deferred, most_started, last
        sweeps += 1
        summary, error = stack.invoke("start-copy", schedule_event(f"sweep-{sweeps}"), timeout=300)
        assert error is None, summary
        deferred += summary["skippedCounts"].get("DEFERRED", 0)
        most_started = max(most_started, summary["startedCount"])
        last = summary
        return summary["skippedCounts"].get("ALREADY_COPIED", 0) == len(backups) * len(REGIONS)

    wait_until("sweeps to copy everything", sweep_until_settled, timeout=600, interval=2)
    runs = stack.wait_for_executions(len(backups) * len(REGIONS), timeout=300)
    limited = stack.control("GET", "faults")
    stack.control("POST", "config", {"rateLimits": [], "maxCopiesInProgress": None})
    ready = {(b, r): [c["BackupState"] for c in stack.copies(b, r)].count("READY") for b in backups for r in REGIONS}
    calls = stack.control("GET", "calls")["copyBackupToRegion"]
    failures = [e for e in stack.announcements(wait=3) if e["detail-type"] == "CloudHSM Backup Copy Failed"]
    print(f"backpressure: sweeps={sweeps} deferred={deferred} most_started_per_sweep={most_started} "
          f"executions={len(runs)} copies={sum(ready.values())} copy_calls={len(calls)} limited={limited} "
          f"failure_events={len(failures)}")
    assert deferred > 0 and most_started <= 4 * len(REGIONS)
    assert sum(v for k, v in limited.items() if k.endswith(":rateLimit")) > 0
    assert failures == [] and all(r["status"] == "SUCCEEDED" for r in runs) and len(runs) == len(backups) * len(REGIONS)
    assert all(n == 1 for n in ready.values()) and len(calls) == len(backups) * len(REGIONS)
    # No false freshness alarm: every cluster's newest copy is the fresh one, everywhere.
    assert len(last["freshness"]) == len(backups) * len(REGIONS)
    assert all(f["newestCopyAgeHours"] < 1 for f in last["freshness"])
