"""The recovery account's companion template (dr-account.yaml): linted, scanned, a role that
only the source stack's start-copy role may assume and that may only list backups, and (with
DrillRegions) a drill role only the source stack's restore-drill role may assume."""

import sys
from pathlib import Path

from cfnlint.decode import decode

from deployed import Deployment
from test_template import checkov, run

ROOT = Path(__file__).resolve().parents[2]
DR_TEMPLATE = ROOT / "dr-account.yaml"


def test_cfn_lint_passes_on_the_recovery_accounts_template():
    result = run([str(Path(sys.executable).parent / "cfn-lint"), str(DR_TEMPLATE)])
    assert result.returncode == 0, result.stdout + result.stderr
    _tpl, matches = decode(str(DR_TEMPLATE))
    assert not matches, matches


def test_checkov_finds_nothing_in_the_recovery_accounts_template():
    report = checkov(DR_TEMPLATE)
    results = report["results"]
    assert [(c["check_id"], c["resource"]) for c in results["failed_checks"]] == []
    assert results["skipped_checks"] == []
    assert report["summary"]["passed"] > 0


def test_the_verifier_role_trusts_only_the_source_stacks_start_copy_role_and_may_only_list_backups():
    d = Deployment.load(ROOT, {"SourceAccountId": "123456789012"}, account="210987654321", template="dr-account.yaml")
    (role,) = d.roles.values()
    props = role["Properties"]
    assert props["RoleName"] == "cloudhsm-backup-copy-recovery-verifier"
    (trust,) = props["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/cloudhsm-backup-copy-StartCopyRole*"}}
    statements = [s for p in props["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert statements == [{"Sid": "SeeSharedBackups", "Effect": "Allow", "Action": "cloudhsm:DescribeBackups", "Resource": "*"}]


def test_the_drill_role_is_made_only_for_drill_regions_and_trusts_only_the_restore_drill_role():
    d = Deployment.load(ROOT, {"SourceAccountId": "123456789012"}, account="210987654321", template="dr-account.yaml")
    assert list(d.roles) == ["RecoveryVerifierRole"], "no drill role without DrillRegions"
    d = Deployment.load(ROOT, {"SourceAccountId": "123456789012", "DrillRegions": "us-west-2,eu-west-1"},
                        account="210987654321", template="dr-account.yaml")
    props = d.roles["RecoveryDrillRole"]["Properties"]
    assert props["RoleName"] == "cloudhsm-backup-copy-recovery-drill"
    (trust,) = props["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert trust["Condition"] == {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/cloudhsm-backup-copy-RestoreDrillRole*"}}
    statements = {s["Sid"]: s for p in props["Policies"] for s in p["PolicyDocument"]["Statement"]}
    # Every statement is held to the drill regions.
    assert all(s["Condition"]["StringEquals"].get("aws:RequestedRegion") == ["us-west-2", "eu-west-1"]
               for sid, s in statements.items() if sid != "CloudHsmServiceLinkedRole"), statements
    restore = statements["RestoreSharedCopies"]
    assert restore["Resource"] == "arn:aws:cloudhsm:*:123456789012:backup/*", "only the source account's backups"
    assert statements["DeleteDrillClusters"]["Condition"]["StringEquals"]["aws:ResourceTag/cloudhsm-backup-copy:drill"] == "cloudhsm-backup-copy"
    assert {a for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
            if a.startswith("cloudhsm:")} == {"cloudhsm:DescribeClusters", "cloudhsm:CreateCluster", "cloudhsm:TagResource",
                                             "cloudhsm:DeleteCluster"}
