"""Freshness metrics and pruning, on the local stack."""

import json

from stack import DESTINATION_REGIONS, backup_created_event, prune_event, schedule_event

REGIONS = list(DESTINATION_REGIONS)


def copy_all(stack, cluster_id, backups):
    for b in backups:
        stack.invoke("start-copy", backup_created_event(b, cluster_id, event_id=b))
    runs = stack.wait_for_executions(len(backups) * len(REGIONS))
    assert all(r["status"] == "SUCCEEDED" for r in runs)


def copy_states(stack, backup_id):
    return {r: sorted(c["BackupState"] for c in stack.copies(backup_id, r)) for r in REGIONS}


def test_pruning_dry_run_changes_nothing_and_real_mode_deletes_exactly_the_chosen(stack):
    cluster_id, newest = stack.create_cluster()
    old = stack.make_backup(cluster_id, age_hours=50)
    older = stack.make_backup(cluster_id, age_hours=80)
    recent = stack.make_backup(cluster_id, age_hours=10)
    copy_all(stack, cluster_id, [newest, old, older, recent])

    stack.restart_functions(RETENTION_DAYS="2", LOOKBACK_HOURS="24", PRUNE_DRY_RUN="true")
    # The hourly sweep reads only the window and never prunes; the pruning run does.
    sweep, error = stack.invoke("start-copy", schedule_event("sweep"))
    assert error is None, sweep
    assert "wouldPrune" not in sweep and "pruned" not in sweep
    dry, error = stack.invoke("start-copy", prune_event())
    assert error is None, dry
    print(f"dry run would prune {len(dry['wouldPrune'])} copies")
    assert sorted((p["destinationRegion"], p["reason"]) for p in dry["wouldPrune"]) == sorted(
        (r, "older than 2 days") for r in REGIONS for _ in (old, older)
    )
    assert "pruned" not in dry
    for b in (newest, old, older, recent):
        assert copy_states(stack, b) == {r: ["READY"] for r in REGIONS}

    stack.restart_functions(PRUNE_DRY_RUN="false")
    real, error = stack.invoke("start-copy", prune_event())
    assert error is None, real
    pruned_ids = {p["backupId"] for p in real["pruned"]}
    expected = {c["BackupId"] for b in (old, older) for r in REGIONS for c in stack.copies(b, r)}
    assert pruned_ids == expected and len(pruned_ids) == 4
    for b in (old, older):
        assert copy_states(stack, b) == {r: ["PENDING_DELETION"] for r in REGIONS}
    for b in (newest, recent):
        assert copy_states(stack, b) == {r: ["READY"] for r in REGIONS}

    # The next runs neither prune again nor re-copy what was pruned.
    again, _ = stack.invoke("start-copy", prune_event())
    assert again["started"] == [] and "pruned" not in again
    sweep, _ = stack.invoke("start-copy", schedule_event("after"))
    assert sweep["started"] == []


def test_keep_newest_never_deletes_the_newest_or_never_expires_copies(stack):
    cluster_id, newest = stack.create_cluster()
    middle = stack.make_backup(cluster_id, age_hours=20)
    oldest = stack.make_backup(cluster_id, age_hours=40)
    copy_all(stack, cluster_id, [newest, middle, oldest])
    pinned = stack.copies(oldest, "us-west-2")[0]["BackupId"]
    stack.hsm("us-west-2").modify_backup_attributes(BackupId=pinned, NeverExpires=True)

    stack.restart_functions(KEEP_NEWEST_COPIES="1")
    summary, error = stack.invoke("start-copy", prune_event())

    assert error is None, summary
    pruned = sorted((p["destinationRegion"], p["backupId"]) for p in summary["pruned"])
    expected = sorted(
        [("us-west-2", stack.copies(middle, "us-west-2")[0]["BackupId"])]
        + [("eu-west-1", stack.copies(b, "eu-west-1")[0]["BackupId"]) for b in (middle, oldest)]
    )
    assert pruned == expected
    assert copy_states(stack, newest) == {r: ["READY"] for r in REGIONS}
    assert stack.copies(oldest, "us-west-2")[0]["BackupState"] == "READY"  # NeverExpires


def test_the_sweep_publishes_freshness_per_cluster_and_region(stack):
    fresh_cluster, fresh_backup = stack.create_cluster()
    stale_cluster, _ = stack.create_cluster()
    stale_backup = stack.make_backup(stale_cluster, age_hours=30)
    copy_all(stack, fresh_cluster, [fresh_backup])
    # The stale cluster's copies only went to one region, long ago.
    stack.restart_functions(DESTINATION_REGIONS="us-west-2")
    stack.invoke("start-copy", backup_created_event(stale_backup, stale_cluster, event_id="stale"))
    stack.wait_for_executions(3)
    # The window (48 h) covers the stale backup: freshness reads what the window reads.
    stack.restart_functions(DESTINATION_REGIONS="us-west-2,eu-west-1", LOOKBACK_HOURS="48")
    log_before = stack.function_log("start-copy")

    summary, error = stack.invoke("start-copy", schedule_event())

    assert error is None, summary
    figures = {(f["clusterId"], f["destinationRegion"]): f["newestCopyAgeHours"] for f in summary["freshness"]}
    print("freshness:", figures)
    assert figures[(fresh_cluster, "us-west-2")] < 0.1 and figures[(fresh_cluster, "eu-west-1")] < 0.1
    assert 29.9 < figures[(stale_cluster, "us-west-2")] < 30.2
    # No copy at all in eu-west-1: the age of the oldest backup it lacks (the 30 h one).
    assert 29.9 < figures[(stale_cluster, "eu-west-1")] < 30.2
    log = stack.function_log("start-copy")[len(log_before):]
    lines = [json.loads(line[line.index("{"):]) for line in log.splitlines() if '"_aws"' in line and "NewestCopyAgeHours" in line]
    metrics = {(m["ClusterId"], m["DestinationRegion"]): m["NewestCopyAgeHours"] for m in lines}
    assert metrics == figures
    assert all(m["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "CloudHSMBackupCopy" for m in lines)
