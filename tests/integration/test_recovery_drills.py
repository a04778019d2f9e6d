"""Restore drills in the recovery account (RestoreDrillAccount), end to end on the local stack
with IAM and the API contract enforced: the drill function assumes dr-account.yaml's drill role
there and restores the shared copy by its ARN, as the recovery account would on a bad day; the
cluster is made, checked and deleted there, never in the source account; a copy that is not
shared with the recovery account fails the drill with the reason; and each statement of the
drill role, and the source role's statement that assumes it, is needed."""

from __future__ import annotations

import json

import pytest

from stack import ACCOUNT, RECOVERY_ACCOUNT, SOURCE_REGION, STACK_NAME, schedule_event, wait_until
from test_least_privilege import assert_each_statement_needed
from test_restore_drills import DR, one_drill, record

DRILL_ROLE = f"{STACK_NAME}-recovery-drill"
DRILL_TAG = "cloudhsm-backup-copy:drill"


@pytest.fixture
def recovery_drills(make_stack):
    return make_stack(recovery_accounts=RECOVERY_ACCOUNT, drill_account=RECOVERY_ACCOUNT)


def shared_copy(stack) -> tuple[str, dict]:
    """A cluster whose copy in the drill region is READY and shared with the recovery account."""
    cluster_id, backup_id = stack.create_cluster()
    assert stack.invoke("start-copy", schedule_event("recovery-drill-sweep"))[1] is None
    shared = lambda: next((b for b in stack.hsm(DR, RECOVERY_ACCOUNT).describe_backups(Shared=True)["Backups"]
                           if b.get("SourceBackup") == backup_id), None)
    return cluster_id, wait_until("the copy shared with the recovery account", shared, timeout=120)


def drill_clusters(stack, account: str) -> list[dict]:
    """Every cluster tagged as this stack's drill in the drill region of `account`, in any state."""
    listed = stack.hsm(DR, account).describe_clusters()["Clusters"]
    return [c for c in listed if {"Key": DRILL_TAG, "Value": STACK_NAME} in c.get("TagList", [])]


def test_a_drill_restores_the_shared_copy_in_the_recovery_account_by_its_arn(recovery_drills):
    stack = recovery_drills
    cluster_id, copy = shared_copy(stack)
    _, event = one_drill(stack, "SUCCEEDED")
    detail = event["detail"]
    assert event["detail-type"] == "CloudHSM Restore Drill Succeeded", detail
    assert (detail["drillAccount"], detail["backupId"], detail["cleanedUp"]) == (RECOVERY_ACCOUNT, copy["BackupId"], True), detail
    # Made in the recovery account (now on its way out), from the shared copy; none here.
    (made,) = drill_clusters(stack, RECOVERY_ACCOUNT)
    assert made["ClusterId"] == detail["drillClusterId"] and made["State"] in ("DELETE_IN_PROGRESS", "DELETED"), made
    assert made["SourceBackupId"].rsplit("/", 1)[-1] == copy["BackupId"], made
    assert drill_clusters(stack, ACCOUNT) == []
    # The record stays with the source stack, in the DR region.
    kept = record(stack, cluster_id)
    assert (kept["lastResult"], kept["lastSucceededBackupId"]) == ("SUCCEEDED", copy["BackupId"]), kept


def test_a_copy_not_shared_with_the_recovery_account_fails_its_drill_with_the_reason(recovery_drills):
    stack = recovery_drills
    _cluster_id, copy = shared_copy(stack)
    # The trackers are done (their share step would share the copy again).
    stack.wait_for_executions(2, timeout=180)
    ram = stack.client("ram", DR)
    (share,) = ram.get_resource_shares(resourceOwner="SELF")["resourceShares"]
    # Unshared behind the stack's back, after the sweep: the drill is the first to meet it.
    ram.disassociate_resource_share(resourceShareArn=share["resourceShareArn"], resourceArns=[copy["BackupArn"]])
    wait_until("the copy unshared", lambda: all(b["BackupId"] != copy["BackupId"] for b in
                                                stack.hsm(DR, RECOVERY_ACCOUNT).describe_backups(Shared=True)["Backups"]), timeout=30)
    _, event = one_drill(stack, "FAILED")
    detail = event["detail"]
    assert event["detail-type"] == "CloudHSM Restore Drill Failed", detail
    assert "CloudHsmAccessDeniedException" in detail["reason"] and "not shared" in detail["reason"], detail
    assert drill_clusters(stack, RECOVERY_ACCOUNT) == [] and drill_clusters(stack, ACCOUNT) == []


def test_every_statement_for_drills_in_the_recovery_account_is_needed(recovery_drills):
    """The drill role dr-account.yaml makes there, and the source role's statement that assumes
    it: without any one of them, a drill fails by a denial of that statement's action."""
    stack = recovery_drills
    cluster_id, copy = shared_copy(stack)
    sfn = stack.client("stepfunctions")
    job = {"sourceRegion": SOURCE_REGION, "sourceClusterId": cluster_id, "destinationRegion": DR, "backupId": copy["BackupId"],
           "hsmType": copy["HsmType"], "mode": copy["Mode"], "subnetIds": ["subnet-0a1b2c3d"]}
    runs = iter(range(1000))

    def drill_works() -> bool:
        name = f"drill.{cluster_id}.{DR}.{2000000000 + next(runs)}"
        arn = sfn.start_execution(stateMachineArn=stack.drill_state_machine_arn, name=name, input=json.dumps(job))["executionArn"]
        done = wait_until("the drill to end", lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d, timeout=180)
        outcome = json.loads(done.get("output") or "{}").get("outcome", {})
        return done["status"] == "SUCCEEDED" and outcome.get("cleanedUp") is True

    def cold_drill_works() -> bool:
        # A warm function keeps its session in the recovery account: started cold, it asks
        # for the role again.
        stack.restart_functions()
        return drill_works()

    recovery_iam = stack.client("iam", account=RECOVERY_ACCOUNT)
    drill_policies = {p: json.loads(json.dumps(recovery_iam.get_role_policy(RoleName=DRILL_ROLE, PolicyName=p)["PolicyDocument"]))
                      for p in recovery_iam.list_role_policies(RoleName=DRILL_ROLE)["PolicyNames"]}
    recovery_statements = {("RecoveryDrillRole", s["Sid"]): {"PolicyName": name, "PolicyDocument": doc}
                           for name, doc in drill_policies.items() for s in doc["Statement"]}
    assert {sid for _, sid in recovery_statements} == {
        "ListClusters", "RestoreSharedCopies", "TagDrillClustersAsTheyAreMade", "DeleteDrillClusters",
        "ClusterNetworkReads", "ClusterNetwork", "CloudHsmServiceLinkedRole"}
    flows = {key: drill_works for key in recovery_statements}
    flows[("RestoreDrillRole", "DrillInTheRecoveryAccount")] = cold_drill_works
    assert_each_statement_needed(stack, flows, extra_statements=recovery_statements,
                                 roles={"RecoveryDrillRole": (DRILL_ROLE, recovery_iam)})
    stack.wait_for_drills(0, timeout=180)
