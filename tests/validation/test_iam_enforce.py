"""The local IAM evaluator (local/iam_enforce.py): the parts of AWS's policy logic our roles rely
on, so that an allow in the local stack means what it would mean on AWS."""

import pytest

from iam_enforce import Check, checks_for, evaluate

ARN = "arn:aws:cloudhsm:us-west-2:123456789012:backup/backup-copycopycopy"


def allow(**statement) -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Sid": "S", "Effect": "Allow", **statement}]}


def test_action_and_resource_wildcards():
    policy = allow(Action="cloudhsm:Delete*", Resource="arn:aws:cloudhsm:*:123456789012:backup/*")
    assert evaluate([policy], Check("cloudhsm:DeleteBackup", ARN))[0]
    assert evaluate([policy], Check("CLOUDHSM:deletebackup", ARN))[0]  # actions ignore case
    assert not evaluate([policy], Check("cloudhsm:DeleteBackup", ARN.replace("123456789012", "999999999999")))[0]
    assert not evaluate([policy], Check("cloudhsm:CopyBackupToRegion", ARN))[0]
    # An action with no resource type is asked on "*": a scoped statement does not cover it.
    assert not evaluate([policy], Check("cloudhsm:DeleteBackup", "*"))[0]


def test_an_explicit_deny_wins_and_nothing_is_allowed_by_default():
    allowing = allow(Action="*", Resource="*")
    deny = {"Statement": [{"Sid": "D", "Effect": "Deny", "Action": "cloudhsm:DeleteBackup", "Resource": "*"}]}
    assert evaluate([allowing, deny], Check("cloudhsm:DeleteBackup", ARN)) == (False, "explicitly denied by D", None)
    assert evaluate([], Check("cloudhsm:DeleteBackup", ARN))[0] is False


@pytest.mark.parametrize(
    "condition,context,expected",
    [
        ({"StringEquals": {"aws:RequestedRegion": ["us-west-2", "eu-west-1"]}}, {"aws:RequestedRegion": "eu-west-1"}, True),
        ({"StringEquals": {"aws:RequestedRegion": ["us-west-2"]}}, {"aws:RequestedRegion": "us-east-1"}, False),
        ({"StringEquals": {"aws:ResourceTag/k": "v"}}, {}, False),  # a missing key never matches
        ({"StringNotEquals": {"aws:ResourceTag/k": "v"}}, {}, True),
        ({"StringLike": {"aws:ResourceTag/k": "v*"}}, {"aws:ResourceTag/k": "value"}, True),
        ({"Null": {"aws:ResourceTag/k": "false"}}, {"aws:ResourceTag/k": "x"}, True),
        ({"Null": {"aws:ResourceTag/k": "false"}}, {}, False),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:states:*:1:stateMachine:*"}}, {"aws:SourceArn": "arn:aws:states:r:1:stateMachine:m"}, True),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a"]}, True),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a", "c"]}, False),
        ({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["x"]}}, {"aws:TagKeys": ["a", "b"]}, True),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["c"]}}, {"aws:TagKeys": ["a", "c"]}, True),
        ({"StringEqualsIfExists": {"aws:ResourceTag/k": "v"}}, {}, True),
        # Two keys in one operator, and two operators: all must hold.
        ({"StringEquals": {"a": "1", "b": "2"}}, {"a": "1", "b": "3"}, False),
    ],
)
def test_conditions(condition, context, expected):
    policy = allow(Action="cloudhsm:DeleteBackup", Resource="*", Condition=condition)
    assert evaluate([policy], Check("cloudhsm:DeleteBackup", ARN, context))[0] is expected


def test_an_operator_it_does_not_know_fails_loudly():
    policy = allow(Action="*", Resource="*", Condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}})
    with pytest.raises(ValueError, match="not supported"):
        evaluate([policy], Check("cloudhsm:DeleteBackup", ARN))


def test_the_copy_call_needs_its_tag_actions_on_the_source_and_the_copy():
    params = {"BackupId": "backup-sourcesource", "DestinationRegion": "us-west-2", "TagList": [{"Key": "k", "Value": "v"}]}
    checks = checks_for("cloudhsm", "CopyBackupToRegion", params, "us-east-1", "123456789012", lambda r, i: {"team": "x"})
    assert [(c.action, c.resource.split(":")[3]) for c in checks] == [
        ("cloudhsm:CopyBackupToRegion", "us-east-1"),
        ("cloudhsm:TagResource", "us-east-1"),
        ("cloudhsm:TagResource", "us-west-2"),
        ("cloudhsm:UntagResource", "us-east-1"),
        ("cloudhsm:UntagResource", "us-west-2"),
    ]
    assert checks[0].context["aws:ResourceTag/team"] == "x"
    assert checks[1].context["aws:TagKeys"] == ["k"] and checks[1].context["aws:RequestTag/k"] == "v"
    # Operations without a model are refused to roles (the caller denies on None).
    assert checks_for("cloudhsm", "CreateHsm", {}, "us-east-1", "1", lambda r, i: {}) is None


def test_a_restore_needs_the_backup_the_tags_the_service_role_and_the_network():
    params = {"SourceBackupId": "backup-copycopycopy", "HsmType": "hsm2m.medium", "SubnetIds": ["subnet-0a1b2c3d"],
              "TagList": [{"Key": "drill", "Value": "dr"}]}
    checks = checks_for("cloudhsm", "CreateCluster", params, "us-west-2", "123456789012", lambda r, i: {"source": "x"})
    by_action = {c.action: c for c in checks}
    create = by_action["cloudhsm:CreateCluster"]
    assert create.resource == "arn:aws:cloudhsm:us-west-2:123456789012:backup/backup-copycopycopy"
    assert create.context["aws:RequestTag/drill"] == "dr" and create.context["aws:ResourceTag/source"] == "x"
    assert by_action["cloudhsm:TagResource"].resource.startswith("arn:aws:cloudhsm:us-west-2:123456789012:cluster/")
    assert by_action["iam:CreateServiceLinkedRole"].context["iam:AWSServiceName"] == "cloudhsm.amazonaws.com"
    assert {"ec2:CreateSecurityGroup", "ec2:DescribeSubnets"} <= set(by_action)
    network = {(c.action, c.resource.split(":")[-1].split("/")[0]) for c in checks if c.action.startswith("ec2:")}
    assert {("ec2:DescribeSubnets", "*"), ("ec2:CreateSecurityGroup", "security-group"), ("ec2:CreateSecurityGroup", "vpc")} <= network
    delete = checks_for("cloudhsm", "DeleteCluster", {"ClusterId": "cluster-drilldrill1"}, "us-west-2", "123456789012",
                        lambda r, i: {"drill": "dr"} if i == "cluster-drilldrill1" else {})
    assert delete[0].resource == "arn:aws:cloudhsm:us-west-2:123456789012:cluster/cluster-drilldrill1"
    assert delete[0].context["aws:ResourceTag/drill"] == "dr"
    policy = allow(Action="cloudhsm:DeleteCluster", Resource="arn:aws:cloudhsm:*:123456789012:cluster/*",
                   Condition={"StringEquals": {"aws:ResourceTag/drill": "dr"}})
    assert evaluate([policy], delete[0])[0]
    untagged = checks_for("cloudhsm", "DeleteCluster", {"ClusterId": "cluster-production1"}, "us-west-2", "123456789012", lambda r, i: {})
    assert not evaluate([policy], untagged[0])[0]


def test_parameters_are_checked_one_by_one_on_their_own_arns():
    checks = checks_for("ssm", "GetParameters", {"Names": ["/a/b", "/c"]}, "us-west-2", "123456789012", lambda r, i: {})
    assert [(c.action, c.resource) for c in checks] == [
        ("ssm:GetParameters", "arn:aws:ssm:us-west-2:123456789012:parameter/a/b"),
        ("ssm:GetParameters", "arn:aws:ssm:us-west-2:123456789012:parameter/c"),
    ]
    put = checks_for("ssm", "PutParameter", {"Name": "/a/b", "Tags": [{"Key": "k", "Value": "v"}]}, "us-west-2", "123456789012", lambda r, i: {})
    assert [c.action for c in put] == ["ssm:PutParameter", "ssm:AddTagsToResource"]
    policy = allow(Action="ssm:GetParameters", Resource="arn:aws:ssm:*:123456789012:parameter/a/*",
                   Condition={"StringEquals": {"aws:RequestedRegion": ["us-west-2"]}})
    assert [evaluate([policy], c)[0] for c in checks] == [True, False]
    assert checks_for("ssm", "DeleteParameter", {"Name": "/a/b"}, "us-west-2", "123456789012", lambda r, i: {}) is None


def test_sharing_a_backup_is_checked_per_backup_and_needs_its_resource_policy():
    share = "arn:aws:ram:us-west-2:123456789012:resource-share/abc"
    backups = [f"arn:aws:cloudhsm:us-west-2:123456789012:backup/backup-{c * 11}" for c in "ab"]
    checks = checks_for("ram", "AssociateResourceShare", {"resourceShareArn": share, "resourceArns": backups}, "us-west-2", "123456789012",
                        lambda r, i: {"cloudhsm-backup-copy:source-region": "us-east-1"})
    assert [(c.action, c.resource) for c in checks] == [("ram:AssociateResourceShare", share)] * 2 + [("cloudhsm:PutResourcePolicy", b) for b in backups]
    assert [c.context["ram:ResourceArn"] for c in checks[:2]] == backups
    assert checks[2].context["aws:ResourceTag/cloudhsm-backup-copy:source-region"] == "us-east-1"
    policy = {"Statement": [{"Effect": "Allow", "Action": "ram:AssociateResourceShare", "Resource": share,
                             "Condition": {"ArnLike": {"ram:ResourceArn": "arn:aws:cloudhsm:us-west-2:123456789012:backup/*"}}}]}
    assert all(evaluate([policy], c)[0] for c in checks[:2])
    elsewhere = checks_for("ram", "AssociateResourceShare", {"resourceShareArn": share, "resourceArns": [backups[0].replace("us-west-2", "eu-west-1")]},
                           "us-west-2", "123456789012", lambda r, i: {})
    assert not evaluate([policy], elsewhere[0])[0]
    unshare = checks_for("ram", "DisassociateResourceShare", {"resourceShareArn": share, "resourceArns": backups[:1]}, "us-west-2", "123456789012",
                         lambda r, i: {})
    assert [c.action for c in unshare] == ["ram:DisassociateResourceShare", "cloudhsm:DeleteResourcePolicy"]
    assert [c.action for c in checks_for("ram", "ListResources", {}, "us-west-2", "1", lambda r, i: {})] == ["ram:ListResources"]
    assert checks_for("ram", "UpdateResourceShare", {}, "us-west-2", "1", lambda r, i: {}) is None
