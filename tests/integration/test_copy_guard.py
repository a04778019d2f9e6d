"""GuardNewestCopy on the local stack: each sweep marks every cluster's newest READY copy in each
DR region NeverExpires, clears the mark from the copy it supersedes once a newer copy is READY,
and never touches a mark someone else set. The kit records which marks are the stack's."""

from __future__ import annotations


from stack import schedule_event, wait_until

REGIONS = ("us-west-2", "eu-west-1")


def ready_copy(stack, backup_id: str, region: str) -> dict:
    return wait_until(f"a READY copy of {backup_id} in {region}",
                      lambda: next((c for c in stack.copies(backup_id, region) if c["BackupState"] == "READY"), None), timeout=120)


def never_expires(stack, region: str, backup_id: str) -> bool:
    return stack.hsm(region).describe_backups(Filters={"backupIds": [backup_id]})["Backups"][0].get("NeverExpires", False)


def sweep(stack, n: int) -> dict:
    summary, error = stack.invoke("start-copy", schedule_event(f"guard-sweep-{n}"))
    assert error is None, (error, summary)
    return summary


def guarded(stack, region: str, cluster_id: str) -> list[str]:
    return (stack.kit(region, cluster_id) or {}).get("guardedBackupIds", [])


def test_the_newest_copy_is_guarded_and_the_guard_moves_on_with_newer_copies(make_stack):
    stack = make_stack(function_env={"GUARD_NEWEST_COPY": "true"})
    cluster_id, first = stack.create_cluster()
    sweep(stack, 1)
    firsts = {r: ready_copy(stack, first, r)["BackupId"] for r in REGIONS}
    sweep(stack, 2)
    for region in REGIONS:
        assert never_expires(stack, region, firsts[region]), region
        assert guarded(stack, region, cluster_id) == [firsts[region]]

    # Someone marks the first copy in eu-west-1 themselves too: it is theirs as well, but the
    # stack only knows its own marks. A newer backup is copied; the next sweep guards the new
    # copies and clears its own mark from the first ones.
    newer = stack.make_backup(cluster_id)
    sweep(stack, 3)
    newers = {r: ready_copy(stack, newer, r)["BackupId"] for r in REGIONS}
    mine = stack.make_backup(cluster_id, age_hours=48)
    sweep(stack, 4)
    mine_copy = ready_copy(stack, mine, "us-west-2")["BackupId"]
    stack.hsm("us-west-2").modify_backup_attributes(BackupId=mine_copy, NeverExpires=True)
    sweep(stack, 5)
    for region in REGIONS:
        assert never_expires(stack, region, newers[region]), region
        assert not never_expires(stack, region, firsts[region]), f"the superseded copy in {region} is still guarded"
        assert guarded(stack, region, cluster_id) == [newers[region]]
    # The operator's own mark stays.
    assert never_expires(stack, "us-west-2", mine_copy)
    # Nothing left to do: the next sweep changes no mark and rewrites no kit.
    assert sweep(stack, 6)["restoreKitCounts"] == {"CURRENT": 2}
