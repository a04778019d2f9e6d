"""Nothing lost whatever happened before: a copy whose executions failed (an outage longer than
the task retries, copies that died and vanished from the listing) is made by a later sweep, under
a new execution name, exactly once. Every test prints the counts it checked."""

from stack import DESTINATION_REGIONS, backup_created_event, schedule_event

REGIONS = list(DESTINATION_REGIONS)


def ready_counts(stack, backup_id):
    return {r: [c["BackupState"] for c in stack.copies(backup_id, r)].count("READY") for r in REGIONS}


def failure_events(events):
    return [e for e in events if e["detail-type"] == "CloudHSM Backup Copy Failed"]


def test_an_outage_longer_than_the_task_retries_is_healed_by_the_next_sweep(stack):
    # Every CopyBackupToRegion answers 5xx: the copy step cannot tell whether a copy was made,
    # so it never calls twice; the loop waits for a copy, re-requests, and finally gives up.
    stack.control("POST", "config", {"faults": [{"service": "cloudhsm", "operation": "CopyBackupToRegion", "kind": "5xx", "rate": 1.0}]})
    cluster_id, backup_id = stack.create_cluster()
    stack.invoke("start-copy", backup_created_event(backup_id, cluster_id))
    first = stack.wait_for_executions(2, timeout=240)
    failed = failure_events(stack.announcements(wait=3))
    injected = stack.control("GET", "faults")

    # The outage ends; the next sweep starts generation 1 for both regions.
    stack.control("POST", "config", {"faults": []})
    summary, error = stack.invoke("start-copy", schedule_event("after-outage"))
    runs = stack.wait_for_executions(4, timeout=240)
    second = [r for r in runs if r["name"].endswith("-1")]
    succeeded = [e for e in stack.announcements(wait=3) if e["detail-type"] == "CloudHSM Backup Copy Succeeded"]
    calls = stack.control("GET", "calls")["copyBackupToRegion"]
    ready = ready_counts(stack, backup_id)
    print(f"outage: first={[r['status'] for r in first]} failure_events={len(failed)} injected={injected} "
          f"sweep_started={summary.get('startedCount')} second={[r['status'] for r in second]} "
          f"copies_made={len(calls)} ready={ready}")
    assert all(r["status"] == "FAILED" for r in first)
    assert [e["detail"]["failure"]["reason"] for e in failed] == ["COPY_NOT_VISIBLE"] * 2
    assert error is None, summary
    assert summary["startedCount"] == 2
    assert sorted(s["executionName"] for s in summary["started"]) == sorted(f"{backup_id}-to-{r}-1" for r in REGIONS)
    assert len(second) == 2 and all(r["status"] == "SUCCEEDED" for r in second)
    assert len(succeeded) == 2
    assert len(calls) == 2  # one copy per region, none during the outage
    assert ready == {r: 1 for r in REGIONS}


def test_copies_that_died_and_vanished_from_the_listing_do_not_block_a_new_copy(stack):
    # Failed copies end DELETED and drop out of the listing at once (AWS says nothing about how
    # long they stay): nothing may depend on counting them.
    stack.control("POST", "config", {"failAllCopies": True, "deletedListedSeconds": 0})
    cluster_id, backup_id = stack.create_cluster()
    stack.invoke("start-copy", backup_created_event(backup_id, cluster_id))
    first = stack.wait_for_executions(2, timeout=240)
    failed = failure_events(stack.announcements(wait=3))
    listed_dead = sum(len(stack.copies(backup_id, r)) for r in REGIONS)

    stack.control("POST", "config", {"failAllCopies": False})
    # Repeated sweeps: the first starts generation 1, the others join it.
    results = [stack.invoke("start-copy", schedule_event(f"tick-{i}")) for i in range(3)]
    runs = stack.wait_for_executions(4, timeout=240)
    results.append(stack.invoke("start-copy", schedule_event("tick-after")))
    calls = stack.control("GET", "calls")["copyBackupToRegion"]
    ready = ready_counts(stack, backup_id)
    started = [r[0].get("startedCount") for r in results]
    print(f"vanished: first={[r['status'] for r in first]} failure_events={len(failed)} listed_dead={listed_dead} "
          f"started_per_sweep={started} executions={len(runs)} copies_made={len(calls)} ready={ready}")
    assert all(r["status"] == "FAILED" for r in first) and len(failed) == 2
    assert listed_dead == 0
    assert all(error is None for _, error in results), results
    assert started == [2, 0, 0, 0]
    assert sorted(r["name"] for r in runs if r["status"] == "SUCCEEDED") == sorted(f"{backup_id}-to-{r}-1" for r in REGIONS)
    assert ready == {r: 1 for r in REGIONS}
    assert sum(not c["endsDeleted"] for c in calls) == 2  # exactly one good copy per region


def test_a_deleted_copy_is_left_alone_while_restorable_and_made_again_once_it_is_gone(stack):
    # DeleteBackup leaves the copy PENDING_DELETION (restorable) for 7 days, then it is gone;
    # here the 7 days pass at once. Gone is gone: the backup lacks a copy and gets a new one.
    cluster_id, backup_id = stack.create_cluster()
    stack.invoke("start-copy", backup_created_event(backup_id, cluster_id))
    stack.wait_for_executions(2)
    (copy,) = stack.copies(backup_id, "us-west-2")
    stack.hsm("us-west-2").delete_backup(BackupId=copy["BackupId"])

    restorable, _ = stack.invoke("start-copy", schedule_event("while-restorable"))
    stack.control("POST", "config", {"pendingDeletionListedSeconds": 0})
    gone, error = stack.invoke("start-copy", schedule_event("after-seven-days"))
    runs = stack.wait_for_executions(3)
    ready = ready_counts(stack, backup_id)
    print(f"deleted copy: while_restorable={restorable['skippedCounts']} after={gone.get('startedCount')} "
          f"executions={[(r['name'].rsplit('-', 1)[1], r['status']) for r in runs]} ready={ready}")
    assert restorable["startedCount"] == 0 and restorable["skippedCounts"]["COPY_DELETED"] == 1
    assert error is None and [s["executionName"] for s in gone["started"]] == [f"{backup_id}-to-us-west-2-1"]
    assert all(r["status"] == "SUCCEEDED" for r in runs)
    assert ready == {r: 1 for r in REGIONS}
