"""Storms and faults: duplicate and overlapping deliveries, throttling and 5xx from CloudHSM and
Step Functions, copies that fail. Every test prints the counts it checked."""

import random
import time
from concurrent.futures import ThreadPoolExecutor

from stack import DESTINATION_REGIONS, backup_created_event, schedule_event, wait_until

REGIONS = list(DESTINATION_REGIONS)


def assert_one_ready_copy_each(stack, backups):
    duplicates = lost = 0
    for b in backups:
        for r in REGIONS:
            states = [c["BackupState"] for c in stack.copies(b, r)]
            ready = states.count("READY")
            duplicates += max(0, ready - 1)
            lost += ready == 0
    return duplicates, lost


def test_event_storm_makes_one_copy_and_one_execution_per_backup_and_region(stack):
    clusters = [stack.create_cluster() for _ in range(5)]
    backups = [b for _, b in clusters]
    same = backup_created_event(backups[0], clusters[0][0], event_id="same")
    # 50 identical deliveries, and 50 overlapping ones: the same backups under different event
    # ids, cluster events, and schedule ticks, shuffled, 8 at a time.
    identical = [same] * 50
    overlapping = [backup_created_event(b, c, event_id=f"e{i}") for i, (c, b) in enumerate(clusters * 8)]
    overlapping += [schedule_event(f"tick-{i}") for i in range(5)]
    overlapping += [{**backup_created_event("backup-aaaaaaaaaaa"), "detail": {"clusterId": c}} for c, _ in clusters]
    events = identical + overlapping
    random.Random(7).shuffle(events)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda e: stack.invoke("start-copy", e), events))

    errors = [r for r in results if r[1]]
    runs = stack.wait_for_executions(len(backups) * len(REGIONS), timeout=300)
    time.sleep(1)
    runs = stack.executions()
    calls = stack.control("GET", "calls")["copyBackupToRegion"]
    duplicates, lost = assert_one_ready_copy_each(stack, backups)
    print(f"storm: events={len(events)} errors={len(errors)} executions={len(runs)} "
          f"copy_calls={len(calls)} duplicates={duplicates} lost={lost}")
    assert errors == []
    assert len(runs) == len(backups) * len(REGIONS) and all(r["status"] == "SUCCEEDED" for r in runs)
    assert len(calls) == len(backups) * len(REGIONS)
    assert (duplicates, lost) == (0, 0)


def test_thirty_percent_faults_lose_nothing_and_duplicate_nothing(make_stack):
    stack = make_stack(copy_delay=1.0)
    backups = [stack.create_cluster()[1] for _ in range(20)]
    stack.control("POST", "config", {
        "faultSeed": 42,
        "faults": [
            {"service": "cloudhsm", "operation": "*", "kind": ["throttle", "5xx"], "rate": 0.3},
            {"service": "states", "operation": "*", "kind": ["throttle", "5xx"], "rate": 0.3},
        ],
    })

    # Lambda retries a failed asynchronous invoke, and the hourly sweep runs again: both are
    # modelled by sweeping until a sweep succeeds, nothing runs, and every pair has a copy. A
    # copy whose execution failed (its attempts all met 5xx) is started again by a later sweep.
    sweeps = 0

    def sweep_until_settled():
        nonlocal sweeps
        sweeps += 1
        summary, error = stack.invoke("start-copy", schedule_event(f"sweep-{sweeps}"), timeout=300)
        runs = stack.executions()
        settled = error is None and summary["started"] == [] and all(r["status"] != "RUNNING" for r in runs)
        return settled and assert_one_ready_copy_each(stack, backups)[1] == 0

    wait_until("sweeps to copy everything", sweep_until_settled, timeout=600, interval=2)
    faults = stack.control("GET", "faults")
    stack.control("POST", "config", {"faults": []})
    runs = stack.executions()
    calls = stack.control("GET", "calls")["copyBackupToRegion"]
    duplicates, lost = assert_one_ready_copy_each(stack, backups)
    succeeded = [r for r in runs if r["status"] == "SUCCEEDED"]
    print(f"faults: injected={sum(faults.values())} ({faults}) sweeps={sweeps} executions={len(runs)} "
          f"succeeded={len(succeeded)} copy_calls={len(calls)} duplicates={duplicates} lost={lost}")
    assert sum(faults.values()) > 0
    # One succeeded execution per (backup, region); the others failed and were replaced.
    assert sorted({r["name"].rsplit("-", 1)[0] for r in succeeded}) == sorted(r["name"].rsplit("-", 1)[0] for r in succeeded)
    assert len(succeeded) == 40
    assert len(calls) == 40  # injected 5xx answer before the emulator: no copy was made
    assert (duplicates, lost) == (0, 0)


def test_answers_slower_than_the_attempt_timeout_are_retried(stack):
    # 8 s is beyond the SDK's 5 s attempt timeout: the attempt is abandoned and retried.
    backups = [stack.create_cluster() for _ in range(3)]
    stack.control("POST", "config", {
        "faultSeed": 3,
        "faults": [{"service": "cloudhsm", "operation": "DescribeBackups", "kind": "slow", "delaySeconds": 8, "rate": 0.2}],
    })

    for cluster_id, backup_id in backups:
        summary, error = stack.invoke("start-copy", backup_created_event(backup_id, cluster_id, event_id=backup_id))
        assert error is None, summary
    runs = stack.wait_for_executions(6, timeout=300)
    faults = stack.control("GET", "faults")
    stack.control("POST", "config", {"faults": []})
    duplicates, lost = assert_one_ready_copy_each(stack, [b for _, b in backups])
    print(f"slow: injected={faults} executions={len(runs)} duplicates={duplicates} lost={lost}")
    assert sum(faults.values()) > 0
    assert all(r["status"] == "SUCCEEDED" for r in runs)
    assert (duplicates, lost) == (0, 0)
