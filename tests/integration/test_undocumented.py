"""Where AWS is silent, the local stack takes the least convenient answer (a switch each), and the
product must lose nothing, duplicate nothing, and raise no false failure or freshness alarm.

One flow per setting, over two clusters with 66 READY backups (more than a page of old ones;
six inside the 48 h window): an hourly sweep, the daily deep run, another hourly sweep; then every in-window
backup must have exactly one READY copy per region, older ones none, no failure event, and the
last sweep's freshness must be under an hour everywhere."""

import pytest

from stack import DESTINATION_REGIONS, schedule_event, prune_event

REGIONS = list(DESTINATION_REGIONS)
SETTINGS = {
    "listed by CreateTimestamp": {"listingOrder": "createTimestamp"},
    "listed by CopyTimestamp": {"listingOrder": "copyTimestamp"},
    "listed oldest first whatever SortAscending says": {"listingOrder": "oldestFirst"},
    "listed in no order": {"listingOrder": "unordered"},
    "new copies listed late, answers lost after the copy was made": {
        "listingDelaySeconds": 4,
        "faultSeed": 5,
        "faults": [{"service": "cloudhsm", "operation": "CopyBackupToRegion", "kind": "5xxAfter", "rate": 0.5}],
    },
    "failed copies vanish from the listing at once": {"deletedListedSeconds": 0, "failNextCopies": 2},
}


@pytest.mark.parametrize("setting", list(SETTINGS), ids=list(SETTINGS))
def test_nothing_lost_nothing_duplicated_no_false_alarm(make_stack, setting):
    stack = make_stack(copy_delay=1.0, lookback_hours=48)
    window, old = [], []
    for _ in range(2):
        cluster_id, fresh = stack.create_cluster()
        window += [fresh] + [stack.make_backup(cluster_id, age_hours=h) for h in (5, 20)]
        old += [stack.make_backup(cluster_id, age_hours=50 + 2 * i) for i in range(30)]
    stack.control("POST", "config", SETTINGS[setting])

    hourly, error = stack.invoke("start-copy", schedule_event("hourly-1"))
    assert error is None, hourly
    stack.wait_for_executions(hourly["startedCount"], timeout=240)
    daily, error = stack.invoke("start-copy", prune_event())
    assert error is None, daily
    runs = stack.wait_for_executions(hourly["startedCount"] + daily["startedCount"], timeout=240)
    last, error = stack.invoke("start-copy", schedule_event("hourly-2"))
    assert error is None, last
    stack.control("POST", "config", {"faults": []})

    ready = {(b, r): [c["BackupState"] for c in stack.copies(b, r)].count("READY") for b in window for r in REGIONS}
    copies_of_old = sum(len(stack.copies(b, r)) for b in old for r in REGIONS)
    duplicates = sum(max(0, n - 1) for n in ready.values())
    lost = sum(n == 0 for n in ready.values())
    events = stack.announcements(wait=3)
    failures = [e for e in events if e["detail-type"] == "CloudHSM Backup Copy Failed"]
    stale = [f for f in last["freshness"] if f["newestCopyAgeHours"] >= 1]
    print(f"{setting}: hourly_started={hourly['startedCount']} daily_started={daily['startedCount']} "
          f"last_started={last['startedCount']} executions={len(runs)} copies={sum(ready.values())} "
          f"duplicates={duplicates} lost={lost} copies_of_old={copies_of_old} failure_events={len(failures)} "
          f"stale_freshness={len(stale)} faults={stack.control('GET', 'faults')}")
    assert (duplicates, lost, copies_of_old) == (0, 0, 0)
    assert failures == [] and all(r["status"] == "SUCCEEDED" for r in runs)
    assert last["startedCount"] == 0 and last["failedCount"] == 0
    assert len(last["freshness"]) == 2 * len(REGIONS) and stale == []
