"""Sharing every READY copy with a recovery account (RecoveryAccounts), end to end on the local
stack with IAM enforced: the tracker shares the copy in its region through the stack's RAM share
before it announces the success (which says with whom), the recovery account lists the copy
with DescribeBackups(Shared=true) and restores a cluster from its ARN, and a share RAM fails is
announced as a failure with RAM's reason and shared by the next sweep, as is a copy unshared
behind the stack's back."""

from __future__ import annotations

import json

import pytest

from stack import DESTINATION_REGIONS, RECOVERY_ACCOUNT, schedule_event, wait_until
from test_dr_status import dr_status


VERIFIER = "cloudhsm-backup-copy-recovery-verifier"


@pytest.fixture
def sharing(make_stack):
    # With dr-account.yaml's role in the recovery account, which sweeps assume to check its view.
    return make_stack(recovery_accounts=RECOVERY_ACCOUNT, recovery_role=VERIFIER)


def shared_with_recovery(stack, region: str) -> dict[str, dict]:
    listed = stack.hsm(region, RECOVERY_ACCOUNT).describe_backups(Shared=True)["Backups"]
    return {b["BackupId"]: b for b in listed}


def outcomes(stack, count: int) -> list[dict]:
    found: list[dict] = []
    wait_until(f"{count} announcements", lambda: found.extend(stack.announcements()) or len(found) >= count, timeout=120)
    return found


def test_every_copy_is_shared_before_its_success_and_the_recovery_account_restores_it(sharing):
    _cluster_id, backup_id = sharing.create_cluster()
    _, error = sharing.invoke("start-copy", schedule_event("share-1"))
    assert error is None, error
    events = outcomes(sharing, len(DESTINATION_REGIONS))
    assert {e["detail-type"] for e in events} == {"CloudHSM Backup Copy Succeeded"}, events
    for event in events:
        detail = event["detail"]
        assert detail["sharedWith"] == [RECOVERY_ACCOUNT], detail
        # Announced only once the recovery account can see it.
        seen = shared_with_recovery(sharing, detail["destinationRegion"])
        assert detail["destinationBackupId"] in seen, (detail, seen)
        copy = seen[detail["destinationBackupId"]]
        assert (copy["SourceBackup"], copy["BackupState"]) == (backup_id, "READY")
    # One share per region, made by the stack with its tag.
    for region in DESTINATION_REGIONS:
        shares = sharing.client("ram", region).get_resource_shares(resourceOwner="SELF")["resourceShares"]
        assert [(s["name"], s["allowExternalPrincipals"]) for s in shares] == [("cloudhsm-backup-copy-dr-copies", False)], shares
        assert {"key": "cloudhsm-backup-copy:share", "value": "cloudhsm-backup-copy"} in shares[0]["tags"]

    # From the recovery account's side: a cluster restored from the shared copy's ARN.
    west = events[[e["detail"]["destinationRegion"] for e in events].index("us-west-2")]["detail"]
    copy = shared_with_recovery(sharing, "us-west-2")[west["destinationBackupId"]]
    recipient = sharing.hsm("us-west-2", RECOVERY_ACCOUNT)
    cluster = recipient.create_cluster(SourceBackupId=copy["BackupArn"], HsmType=copy["HsmType"], Mode=copy["Mode"],
                                       SubnetIds=["subnet-0a1b2c3d"])["Cluster"]
    wait_until("the restore", lambda: recipient.describe_clusters(Filters={"clusterIds": [cluster["ClusterId"]]})["Clusters"][0]["State"] == "ACTIVE",
               timeout=30)

    # A later copy joins the same share.
    second = sharing.make_backup(_cluster_id)
    sharing.invoke("start-copy", schedule_event("share-2"))
    events = outcomes(sharing, len(DESTINATION_REGIONS))
    assert all(e["detail"]["sharedWith"] == [RECOVERY_ACCOUNT] for e in events), events
    for region in DESTINATION_REGIONS:
        assert len(sharing.client("ram", region).get_resource_shares(resourceOwner="SELF")["resourceShares"]) == 1
        assert {b["SourceBackup"] for b in shared_with_recovery(sharing, region).values()} == {backup_id, second}


def test_a_share_ram_fails_is_announced_as_a_failure_with_rams_reason(sharing):
    sharing.control("POST", "config", {"failShares": True})
    sharing.create_cluster()
    sharing.invoke("start-copy", schedule_event("share-fails"))
    events = outcomes(sharing, len(DESTINATION_REGIONS))
    assert {e["detail-type"] for e in events} == {"CloudHSM Backup Copy Failed"}, events
    for event in events:
        failure = event["detail"]["failure"]
        assert failure["reason"] == "SHARE_FAILED" and failure["error"] == "Retryable", failure
        assert "could not be shared" in failure["cause"], failure
        assert failure["destinationBackupId"].startswith("backup-")
    assert all(shared_with_recovery(sharing, r) == {} for r in DESTINATION_REGIONS)
    # Nothing lost: once RAM shares again, the next sweep shares the copies the tracker could not.
    sharing.control("POST", "config", {"failShares": False})

    def settled(region: str) -> bool:
        ram = sharing.client("ram", region)
        arns = [s["resourceShareArn"] for s in ram.get_resource_shares(resourceOwner="SELF")["resourceShares"]]
        found = ram.get_resource_share_associations(associationType="RESOURCE", resourceShareArns=arns)["resourceShareAssociations"]
        return bool(found) and all(a["status"] == "FAILED" for a in found)

    # (The tracker's last attempt may still be settling into FAILED.)
    for region in DESTINATION_REGIONS:
        wait_until(f"the failed share in {region}", lambda r=region: settled(r), timeout=10)
    summary, error = sharing.invoke("start-copy", schedule_event("share-repair"))
    assert error is None and summary["resharedCount"] == len(DESTINATION_REGIONS), summary
    for event in events:
        region, copy_id = event["detail"]["destinationRegion"], event["detail"]["failure"]["destinationBackupId"]
        wait_until(f"the copy shared in {region}", lambda r=region, c=copy_id: c in shared_with_recovery(sharing, r), timeout=10)


def test_a_share_revoked_behind_the_stacks_back_is_restored_by_the_next_sweep(sharing):
    sharing.create_cluster()
    sharing.invoke("start-copy", schedule_event("share-then-revoke"))
    events = outcomes(sharing, len(DESTINATION_REGIONS))
    west = next(e["detail"] for e in events if e["detail"]["destinationRegion"] == "us-west-2")
    ram = sharing.client("ram", "us-west-2")
    share = ram.get_resource_shares(resourceOwner="SELF")["resourceShares"][0]["resourceShareArn"]
    copy_arn = shared_with_recovery(sharing, "us-west-2")[west["destinationBackupId"]]["BackupArn"]
    # Someone unshares the copy and takes the recovery account out of the share.
    ram.disassociate_resource_share(resourceShareArn=share, resourceArns=[copy_arn], principals=[RECOVERY_ACCOUNT])
    wait_until("the revocation", lambda: shared_with_recovery(sharing, "us-west-2") == {}, timeout=10)
    summary, error = sharing.invoke("start-copy", schedule_event("after-revoke"))
    assert error is None and summary["resharedCount"] == 1 and "sharingFailedRegions" not in summary, summary
    wait_until("the repair", lambda: west["destinationBackupId"] in shared_with_recovery(sharing, "us-west-2"), timeout=10)
    # eu-west-1 was untouched and needed nothing.
    assert west["destinationBackupId"] not in shared_with_recovery(sharing, "eu-west-1")


def test_without_recovery_accounts_nothing_is_shared_and_the_success_says_so(stack):
    stack.create_cluster()
    stack.invoke("start-copy", schedule_event("no-share"))
    events = outcomes(stack, len(DESTINATION_REGIONS))
    assert [e["detail"]["sharedWith"] for e in events] == [[]] * len(DESTINATION_REGIONS), events
    assert stack.control("GET", "requests").get("ram:CreateResourceShare") is None


def test_pruning_unshares_a_copy_before_deleting_it_and_never_the_newest(make_stack):
    stack = make_stack(recovery_accounts=RECOVERY_ACCOUNT, function_env={"RETENTION_DAYS": "2", "LOOKBACK_HOURS": "24"})
    cluster = stack.control("POST", "seed", {"clusters": 1, "backups": 3, "everyHours": 48, "copyTo": ["us-west-2"]})["clusters"][0]
    pages = stack.hsm("us-west-2").get_paginator("describe_backups").paginate()
    copies = sorted((c for page in pages for c in page["Backups"] if c.get("SourceCluster") == cluster), key=lambda c: c["CreateTimestamp"])
    ram = stack.client("ram", "us-west-2")
    share = ram.create_resource_share(name="cloudhsm-backup-copy-dr-copies", principals=[RECOVERY_ACCOUNT], allowExternalPrincipals=False,
                                      tags=[{"key": "cloudhsm-backup-copy:share", "value": "cloudhsm-backup-copy"}])["resourceShare"]
    ram.associate_resource_share(resourceShareArn=share["resourceShareArn"], resourceArns=[c["BackupArn"] for c in copies])
    wait_until("the copies shared", lambda: len(shared_with_recovery(stack, "us-west-2")) == 3, timeout=10)
    summary, error = stack.invoke("start-copy", {"action": "prune"})
    assert error is None, error
    pruned = {p["backupId"] for p in summary["pruned"]}
    assert pruned and copies[-1]["BackupId"] not in pruned, summary
    still = shared_with_recovery(stack, "us-west-2")
    assert copies[-1]["BackupId"] in still and not pruned & set(still), (pruned, still)
    states = {b["BackupId"]: b["BackupState"] for b in stack.hsm("us-west-2").describe_backups(Filters={"backupIds": list(pruned)})["Backups"]}
    assert set(states.values()) == {"PENDING_DELETION"}, states


def test_a_newest_copy_the_recovery_account_does_not_see_is_announced_until_it_does(sharing):
    cluster_id, _ = sharing.create_cluster()
    sharing.invoke("start-copy", schedule_event("share-for-the-view"))
    outcomes(sharing, len(DESTINATION_REGIONS))
    summary, error = sharing.invoke("start-copy", schedule_event("view-1"))
    assert error is None and "notSeenByRecovery" not in summary and "sharingFailedRegions" not in summary, summary
    # The recipient's view lags (the emulator's least convenient reading of AWS's silence).
    sharing.control("POST", "config", {"sharedVisibleAfterSeconds": 3600})
    sharing.announcements()
    summary, error = sharing.invoke("start-copy", schedule_event("view-2"))
    assert error is None, error
    unseen = {(u["destinationRegion"], u["clusterId"], u["problem"]) for u in summary["notSeenByRecovery"]}
    assert unseen == {(r, cluster_id, "NOT_SEEN_BY_RECOVERY") for r in DESTINATION_REGIONS}, summary
    announced = [e["detail"] for e in sharing.announcements(wait=2) if e["detail-type"] == "CloudHSM DR Readiness Failed"]
    assert {(d["destinationRegion"], d["problem"]) for d in announced} == {(r, "NOT_SEEN_BY_RECOVERY") for r in DESTINATION_REGIONS}
    assert all(RECOVERY_ACCOUNT in d["error"] for d in announced)
    # The posture table says so, from the kits the sweep keeps.
    table = dr_status(sharing, "--destinations", ",".join(DESTINATION_REGIONS))
    assert table.returncode == 0, table.stderr
    assert "RECOVERY ACCOUNTS" in table.stdout.splitlines()[0]
    rows = [line for line in table.stdout.splitlines() if line.startswith(cluster_id)]
    assert len(rows) == len(DESTINATION_REGIONS) and all(f"NOT SEEN by {RECOVERY_ACCOUNT}" in r for r in rows), table.stdout
    sharing.control("POST", "config", {"sharedVisibleAfterSeconds": 0})
    summary, _ = sharing.invoke("start-copy", schedule_event("view-3"))
    assert "notSeenByRecovery" not in summary, summary
    rows = json.loads(dr_status(sharing, "--destinations", ",".join(DESTINATION_REGIONS), "--json").stdout)
    views = {r["destinationRegion"]: r["recoveryView"] for r in rows if r["clusterId"] == cluster_id}
    assert views == {r: {"backupId": views[r]["backupId"], "seenBy": [RECOVERY_ACCOUNT], "notSeenBy": []} for r in DESTINATION_REGIONS}, views
    # A verifier role that cannot list is a failed check, not a silent one.
    sharing.client("iam", account=RECOVERY_ACCOUNT).delete_role_policy(RoleName=VERIFIER, PolicyName="see-shared-backups")
    summary, _ = sharing.invoke("start-copy", schedule_event("view-4"))
    assert sorted(summary["sharingFailedRegions"]) == sorted(DESTINATION_REGIONS), summary
    denied = sharing.control("POST", "denials")
    assert {d["denied"][0]["principal"] for d in denied} == {VERIFIER}, denied
