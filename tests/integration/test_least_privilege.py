"""Least privilege, shown by enforcement: the functions and the state machine run as the roles the
template gives them (see local/iam_enforce.py), every flow works with all statements, and
removing any one statement breaks the flow it exists for.

Not exercised here, because the local stack has no CloudWatch Logs, X-Ray or asynchronous Lambda
invokes: each role's Logs and Trace statements, the state machine's DeliverLogs and start-copy's
DeadLetters (tests/validation/test_iam_definitions.py checks those against AWS's reference)."""

from __future__ import annotations

import json

import time

from stack import RECOVERY_ACCOUNT, SOURCE_REGION, STACK_NAME, check_request, copy_request, schedule_event, wait_until

NOT_EMULATED = {"Logs", "Trace", "DeliverLogs", "DeadLetters"}
DRILL_ROLES = ("RestoreDrillRole", "RestoreDrillStateMachineRole")
# The sweep's share repair (RecoveryAccounts), shown by test_every_share_statement_is_needed_to_share_a_copy.
SWEEP_SHARE_STATEMENTS = [("StartCopyRole", sid) for sid in ("ReadShares", "MakeTheShare", "ShareCopiesAgain", "PolicyOfSharedCopies",
                                                              "UnshareBeforePruning", "PolicyOfUnsharedCopies")]


def all_statements(stack) -> dict[tuple[str, str], dict]:
    """(role, Sid) -> the inline policy holding that statement."""
    found = {}
    for logical, role in stack.deployment.roles.items():
        for policy in role["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                found[(logical, statement["Sid"])] = policy
    return found


def statements_of(stack, role: str) -> set[str]:
    return {sid for (r, sid) in all_statements(stack) if r == role and sid not in NOT_EMULATED}


def assert_each_statement_needed(stack, flows: dict, extra_statements: dict | None = None, roles: dict | None = None) -> None:
    """Every flow works with all statements; without any one statement, the flow it exists for
    fails, and because that statement's actions were denied to its role. `extra_statements` and
    `roles` add roles that are not the stack's (logical name -> (role name, its account's IAM))."""
    iam = stack.client("iam")
    statements = {**all_statements(stack), **(extra_statements or {})}
    for flow in set(flows.values()):
        assert flow(), f"{flow.__name__} fails with every statement in place"
    unbroken = []
    for (logical, sid), flow in flows.items():
        policy = statements[(logical, sid)]
        reduced = {**policy["PolicyDocument"], "Statement": [s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] != sid]}
        role_name, role_iam = (roles or {}).get(logical, (f"{STACK_NAME}-{logical}", iam))
        if reduced["Statement"]:
            role_iam.put_role_policy(RoleName=role_name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(reduced))
        else:
            # A policy with no statement is malformed: the policy goes instead.
            role_iam.delete_role_policy(RoleName=role_name, PolicyName=policy["PolicyName"])
        try:
            works = flow()
        finally:
            role_iam.put_role_policy(RoleName=role_name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"]))
        denials = stack.control("POST", "denials")
        removed = next(s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] == sid)
        actions = set(removed["Action"] if isinstance(removed["Action"], list) else [removed["Action"]])
        # Broken because of this statement: one of its actions was denied to this role.
        cause = [d for den in denials for d in den["denied"] if d["action"] in actions and d["principal"] == role_name]
        print(f"without {logical}/{sid}: {flow.__name__} -> {'works' if works else 'broken'}, {len(cause)} denial(s) of {sorted(actions)}")
        if works or not cause:
            unbroken.append((logical, sid))
    assert unbroken == [], f"statements whose removal breaks nothing: {unbroken}"


def test_every_statement_is_needed_by_the_flow_it_exists_for(stack):
    sfn = stack.client("stepfunctions")
    # GuardNewestCopy on, so that its statement has a flow to serve.
    stack.restart_functions(GUARD_NEWEST_COPY="true")
    cluster_id, _ = stack.create_cluster()
    runs = iter(range(1000))

    def sweep_works() -> bool:
        stack.make_backup(cluster_id)
        _, error = stack.invoke("start-copy", schedule_event(f"sweep-{next(runs)}"))
        return error is None

    def copy_step_works() -> bool:
        request = copy_request(stack.make_backup(cluster_id), cluster_id)
        result, error = stack.invoke("copy-step", request)
        return error is None and result["outcome"] == "COPY_REQUESTED"

    def check_copy_works() -> bool:
        request = copy_request(stack.make_backup(cluster_id), cluster_id)
        _, error = stack.invoke("check-copy", check_request(request))
        return error is None

    # A READY copy in each destination, so that every sweep has restore kits to keep.
    kept = stack.make_backup(cluster_id)
    assert stack.invoke("start-copy", schedule_event("sweep-for-the-kits"))[1] is None
    for region in ("us-west-2", "eu-west-1"):
        wait_until(f"a READY copy in {region}", lambda r=region: any(c["BackupState"] == "READY" for c in stack.copies(kept, r)), timeout=120)

    def kits_kept() -> bool:
        summary, error = stack.invoke("start-copy", schedule_event(f"sweep-{next(runs)}"))
        # A kit not stored is reported (FAILED), not a failed run.
        counts = summary.get("restoreKitCounts", {}) if error is None else {}
        return sum(counts.values()) >= 2 and "FAILED" not in counts

    # A drill record in each region (as a drill would leave it), whose age sweeps publish.
    for region in ("us-west-2", "eu-west-1"):
        record = {"version": 1, "sourceRegion": SOURCE_REGION, "sourceClusterId": cluster_id, "destinationRegion": region,
                  "lastResult": "SUCCEEDED", "lastDrillAt": "2026-11-30T04:00:00Z", "lastBackupId": kept, "lastDurationSeconds": 300,
                  "lastReason": None, "lastSucceededAt": "2026-11-30T04:00:00Z", "lastSucceededBackupId": kept,
                  "firstDrillAt": "2026-11-23T04:00:00Z"}
        stack.client("ssm", region).put_parameter(Name=f"/cloudhsm-backup-copy/{STACK_NAME}/{SOURCE_REGION}/drills/{cluster_id}",
                                                  Value=json.dumps(record), Type="String", Overwrite=True)

    def drill_ages_published() -> bool:
        published = lambda: stack.function_log("start-copy").count('"SuccessfulDrillAgeHours"')  # noqa: E731
        before = published()
        _, error = stack.invoke("start-copy", schedule_event(f"sweep-{next(runs)}"))
        if error is not None:
            return False
        try:
            return bool(wait_until("the drill ages", lambda: published() >= before + 2, timeout=3))
        except TimeoutError:
            return False

    def newest_copy_guarded() -> bool:
        # Earlier flows leave backups uncopied, so this sweep copies several and any of them may
        # end up the newest: what must be marked is the kit's copy, one made during this flow.
        west = stack.hsm("us-west-2")
        listed = lambda: [b for page in west.get_paginator("describe_backups").paginate() for b in page["Backups"]]  # noqa: E731
        before = {b["BackupId"] for b in listed()}
        # The newest copy is chosen by CreateTimestamp, which the product reads in whole seconds
        # (ties go by id): a backup made in the same second as an earlier flow's would tie.
        time.sleep(1.1)
        stack.make_backup(cluster_id)
        if stack.invoke("start-copy", schedule_event(f"sweep-{next(runs)}"))[1] is not None:
            return False
        stack.wait_for_executions(0, timeout=180)
        if stack.invoke("start-copy", schedule_event(f"sweep-{next(runs)}"))[1] is not None:
            return False
        newest = (stack.kit("us-west-2", cluster_id) or {}).get("backupId")
        marked = {b["BackupId"] for b in listed() if b.get("NeverExpires")}
        assert newest is not None and newest not in before, (newest, before)
        return newest in marked

    def readiness_announced() -> bool:
        # The cluster's kits are gone and cannot be written (every PutParameter fails): the
        # sweep must announce each as not stored.
        for region in ("us-west-2", "eu-west-1"):
            name = f"/cloudhsm-backup-copy/{STACK_NAME}/{SOURCE_REGION}/{cluster_id}"
            try:
                stack.client("ssm", region).delete_parameter(Name=name)
            except stack.client("ssm", region).exceptions.ParameterNotFound:
                pass
        stack.announcements()
        stack.control("POST", "config", {"faults": [{"service": "ssm", "operation": "PutParameter", "kind": "5xx", "rate": 1.0}]})
        try:
            stack.invoke("start-copy", schedule_event(f"sweep-{next(runs)}"))
        finally:
            stack.control("POST", "config", {"faults": []})
        readiness = [e for e in stack.announcements(wait=2) if e["detail-type"] == "CloudHSM DR Readiness Failed"]
        return len(readiness) >= 2

    def execution_works() -> bool:
        backup_id = stack.make_backup(cluster_id)
        job = copy_request(backup_id, cluster_id)["job"]
        arn = sfn.start_execution(stateMachineArn=stack.state_machine_arn, name=f"{backup_id}-to-us-west-2-0",
                                  input=json.dumps(job, separators=(",", ":")))["executionArn"]
        status = wait_until("the execution to end", lambda: (s := sfn.describe_execution(executionArn=arn)["status"]) != "RUNNING" and s, timeout=120)
        return status == "SUCCEEDED"

    flows = {
        ("StartCopyRole", "ListBackupsAndClusters"): sweep_works,
        ("StartCopyRole", "StartTracking"): sweep_works,
        ("StartCopyRole", "InspectTracking"): sweep_works,
        ("StartCopyRole", "KeepRestoreKits"): kits_kept,
        ("StartCopyRole", "ReadDrillRecords"): drill_ages_published,
        ("StartCopyRole", "GuardNewestCopies"): newest_copy_guarded,
        ("StartCopyRole", "AnnounceReadiness"): readiness_announced,
        ("CopyStepRole", "ReadBackups"): copy_step_works,
        ("CopyStepRole", "CopyBackupsOfThisRegion"): copy_step_works,
        ("CopyStepRole", "TagCopiesAsTheyAreMade"): copy_step_works,
        ("CheckCopyRole", "ListCopies"): check_copy_works,
        ("CopyTrackerRole", "InvokeSteps"): execution_works,
        ("CopyTrackerRole", "Announce"): execution_works,
    }
    # PruneOwnCopies is shown by test_pruning_needs_its_statement_and_nothing_else_can_delete, the
    # drills' statements by test_every_drill_statement_is_needed_by_a_drill, the share role's by
    # test_every_share_statement_is_needed_to_share_a_copy.
    covered = (set(flows) | {("StartCopyRole", "PruneOwnCopies")} | {(role, sid) for role in DRILL_ROLES for sid in statements_of(stack, role)}
               | {("ShareCopyRole", sid) for sid in statements_of(stack, "ShareCopyRole")} | set(SWEEP_SHARE_STATEMENTS)
               | {("StartCopyRole", "VerifyFromTheRecoveryAccounts")})
    exercisable = {k for k in all_statements(stack) if k[1] not in NOT_EMULATED}
    assert exercisable == covered, exercisable ^ covered
    assert_each_statement_needed(stack, flows)
    stack.wait_for_executions(0, timeout=180)
    stack.control("POST", "denials")


def test_pruning_needs_its_statement_and_nothing_else_can_delete(stack):
    # Copies 5 and 3 days old, made by this stack (provenance tags name this region).
    made = stack.control("POST", "seed", {"clusters": 1, "backups": 3, "everyHours": 48, "copyTo": ["us-west-2"]})
    stack.restart_functions(RETENTION_DAYS="2", LOOKBACK_HOURS="24")
    iam = stack.client("iam")
    role = stack.deployment.roles["StartCopyRole"]["Properties"]["Policies"][0]
    reduced = {**role["PolicyDocument"], "Statement": [s for s in role["PolicyDocument"]["Statement"] if s["Sid"] != "PruneOwnCopies"]}
    iam.put_role_policy(RoleName=f"{STACK_NAME}-StartCopyRole", PolicyName=role["PolicyName"], PolicyDocument=json.dumps(reduced))
    summary, _ = stack.invoke("start-copy", {"action": "prune"})
    denials = stack.control("POST", "denials")
    assert any(d["operation"] == "DeleteBackup" for d in denials), denials
    assert summary is not None and summary.get("prunedCount", 0) == 0, summary
    iam.put_role_policy(RoleName=f"{STACK_NAME}-StartCopyRole", PolicyName=role["PolicyName"], PolicyDocument=json.dumps(role["PolicyDocument"]))
    summary, error = stack.invoke("start-copy", {"action": "prune"})
    assert error is None and summary["prunedCount"] >= 1, (summary, made)
    # The copy step, which may tag, cannot delete.
    copy = next(b for b in stack.hsm("us-west-2").describe_backups()["Backups"] if b["BackupState"] == "READY")
    session = stack.credentials["copy-step"]
    import boto3

    hsm = boto3.client("cloudhsmv2", region_name="us-west-2", endpoint_url=stack.endpoint, aws_access_key_id=session["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=session["AWS_SECRET_ACCESS_KEY"], aws_session_token=session["AWS_SESSION_TOKEN"])
    try:
        hsm.delete_backup(BackupId=copy["BackupId"])
        raise AssertionError("the copy step's role deleted a backup")
    except hsm.exceptions.CloudHsmAccessDeniedException:
        pass
    assert stack.control("POST", "denials")


def test_every_drill_statement_is_needed_by_a_drill(stack):
    """The drill role and the drill state machine's: each statement is needed by a planning run
    or by a drill that succeeds (its cluster made, checked, deleted, the outcome recorded and
    announced)."""
    sfn = stack.client("stepfunctions")
    cluster_id, backup_id = stack.create_cluster()
    assert stack.invoke("start-copy", schedule_event("sweep-for-a-drill"))[1] is None
    copy = wait_until("a READY copy", lambda: next((c for c in stack.copies(backup_id, "us-west-2") if c["BackupState"] == "READY"), None), timeout=120)
    job = {"sourceRegion": SOURCE_REGION, "sourceClusterId": cluster_id, "destinationRegion": "us-west-2", "backupId": copy["BackupId"],
           "hsmType": copy["HsmType"], "mode": copy["Mode"], "subnetIds": ["subnet-0a1b2c3d"]}
    runs = iter(range(1000))

    def plan_works() -> bool:
        summary, error = stack.invoke("restore-drill", {"action": "plan"})
        return error is None and bool(summary["started"] or summary["skipped"])

    def drill_works() -> bool:
        # Started directly (the planner names one drill per hour); the name is still one the
        # function admits for this job.
        name = f"drill.{cluster_id}.us-west-2.{2000000000 + next(runs)}"
        arn = sfn.start_execution(stateMachineArn=stack.drill_state_machine_arn, name=name, input=json.dumps(job))["executionArn"]
        done = wait_until("the drill to end", lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d, timeout=180)
        outcome = json.loads(done.get("output") or "{}").get("outcome", {})
        return done["status"] == "SUCCEEDED" and outcome.get("cleanedUp") is True and outcome.get("recordError") is None

    plan_statements = {"ListBackupsAndClusters", "StartDrills"}
    flows = {("RestoreDrillRole", sid): plan_works if sid in plan_statements else drill_works for sid in statements_of(stack, "RestoreDrillRole")}
    flows[("RestoreDrillStateMachineRole", "InvokeSteps")] = drill_works
    assert set(flows) == {(r, sid) for r in DRILL_ROLES for sid in statements_of(stack, r)}
    assert_each_statement_needed(stack, flows)
    stack.wait_for_drills(0, timeout=180)
    stack.control("POST", "denials")


def test_every_share_statement_is_needed_to_share_a_copy(make_stack):
    """The share role's: each statement is needed to share a copy again after it was unshared,
    to make the share when there is none, or to take an account no longer configured out of it."""
    stack = make_stack(recovery_accounts=RECOVERY_ACCOUNT, recovery_role="cloudhsm-backup-copy-recovery-verifier",
                       function_env={"RETENTION_DAYS": "2", "LOOKBACK_HOURS": "24"})
    cluster_id, backup_id = stack.create_cluster()
    assert stack.invoke("start-copy", schedule_event("sweep-to-share"))[1] is None
    stack.wait_for_executions(2, timeout=180)
    copy = next(c for c in stack.copies(backup_id, "us-west-2") if c["BackupState"] == "READY")
    request = {"job": {**copy_request(backup_id, cluster_id)["job"]}, "destinationBackupId": copy["BackupId"]}
    ram = stack.client("ram", "us-west-2")
    stack.control("POST", "config", {"organizationAccounts": ["123456789012", RECOVERY_ACCOUNT, "111122223333"]})

    def shares() -> list[str]:
        return [s["resourceShareArn"] for s in ram.get_resource_shares(resourceOwner="SELF")["resourceShares"]]

    def shared() -> bool:
        for _ in range(30):
            result, error = stack.invoke("share-copy", request)
            if error is None:
                return result["sharedWith"] == [RECOVERY_ACCOUNT]
            if (result or {}).get("errorType") != "Pending":
                return False
            time.sleep(0.5)
        return False

    def reshared() -> bool:
        # (A flow before may have left no share: made again first.)
        if not shares() and not shared():
            return False
        ram.disassociate_resource_share(resourceShareArn=shares()[0], resourceArns=[copy["BackupArn"]])
        return shared()

    def made_anew() -> bool:
        for arn in shares():
            ram.delete_resource_share(resourceShareArn=arn)
        return shared()

    def extra_account_removed() -> bool:
        if not shares() and not shared():
            return False
        ram.associate_resource_share(resourceShareArn=shares()[0], principals=["111122223333"])
        return shared() and "111122223333" not in {
            a["associatedEntity"] for a in ram.get_resource_share_associations(associationType="PRINCIPAL", resourceShareArns=shares())["resourceShareAssociations"]
            if a["status"] in ("ASSOCIATING", "ASSOCIATED")}

    def copy_shared_by(run: str) -> bool:
        arn = copy["BackupArn"]
        state = lambda: next((a["status"] for a in ram.get_resource_share_associations(associationType="RESOURCE", resourceShareArns=shares())[  # noqa: E731
            "resourceShareAssociations"] if a["associatedEntity"] == arn), None)
        summary, error = stack.invoke("start-copy", schedule_event(f"{run}-{time.monotonic_ns()}"))
        return error is None and not summary.get("sharingFailedRegions") and state() in ("ASSOCIATING", "ASSOCIATED")

    def sweep_reshares() -> bool:
        if not shares() and not shared():
            return False
        ram.disassociate_resource_share(resourceShareArn=shares()[0], resourceArns=[copy["BackupArn"]])
        wait_until("the unshare", lambda: shared_state() == "DISASSOCIATED", timeout=10)
        return copy_shared_by("sweep-reshares")

    def sweep_makes_the_share() -> bool:
        for arn in shares():
            ram.delete_resource_share(resourceShareArn=arn)
        return copy_shared_by("sweep-makes-the-share")

    def shared_state() -> str | None:
        found = ram.get_resource_share_associations(associationType="RESOURCE", resourceShareArns=shares())["resourceShareAssociations"]
        return next((a["status"] for a in found if a["associatedEntity"] == copy["BackupArn"]), None)

    flows = {("ShareCopyRole", sid): reshared for sid in ("ReadCopies", "ReadShares", "ShareCopies", "PolicyOfSharedCopies")}
    flows[("ShareCopyRole", "MakeTheShare")] = made_anew
    flows[("ShareCopyRole", "UnshareRemovedAccounts")] = extra_account_removed
    assert set(flows) == {("ShareCopyRole", sid) for sid in statements_of(stack, "ShareCopyRole")}
    def pruned_after_unsharing() -> bool:
        # A copy old enough to prune, made by the stack and shared; its cluster's newer copy stays.
        seeded = stack.control("POST", "seed", {"clusters": 1, "backups": 2, "everyHours": 96, "copyTo": ["us-west-2"]})["clusters"][0]
        pages = stack.hsm("us-west-2").get_paginator("describe_backups").paginate()
        old = min((c for page in pages for c in page["Backups"] if c.get("SourceCluster") == seeded), key=lambda c: c["CreateTimestamp"])
        if not shares() and not shared():
            return False
        ram.associate_resource_share(resourceShareArn=shares()[0], resourceArns=[old["BackupArn"]])
        wait_until("the old copy shared", lambda: old["BackupId"] in {b["BackupId"] for b in stack.hsm("us-west-2", RECOVERY_ACCOUNT).describe_backups(Shared=True)["Backups"]}, timeout=10)
        summary, error = stack.invoke("start-copy", {"action": "prune"})
        gone = old["BackupId"] not in {b["BackupId"] for b in stack.hsm("us-west-2", RECOVERY_ACCOUNT).describe_backups(Shared=True)["Backups"]}
        return error is None and any(p["backupId"] == old["BackupId"] for p in summary.get("pruned", [])) and gone

    flows.update({key: sweep_makes_the_share if key[1] == "MakeTheShare" else sweep_reshares for key in SWEEP_SHARE_STATEMENTS})
    def recovery_view_checked() -> bool:
        # Fresh functions: a session the sweep assumed before would outlive the statement (as on
        # AWS, until it expires). The second sweep checks what the first may have changed.
        stack.restart_functions()
        runs = [stack.invoke("start-copy", schedule_event(f"verify-{time.monotonic_ns()}")) for _ in range(2)]
        return all(error is None for _, error in runs) and "sharingFailedRegions" not in runs[-1][0]

    flows[("StartCopyRole", "VerifyFromTheRecoveryAccounts")] = recovery_view_checked
    flows[("StartCopyRole", "UnshareBeforePruning")] = pruned_after_unsharing
    flows[("StartCopyRole", "PolicyOfUnsharedCopies")] = pruned_after_unsharing
    assert_each_statement_needed(stack, flows)
    stack.control("POST", "denials")
