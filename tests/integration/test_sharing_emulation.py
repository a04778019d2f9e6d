"""The local stack shares CloudHSM backups with a second account through AWS RAM as strictly as AWS
documents (sharing copies with the recovery account depends on it): only READY backups you own,
in the share's region; associations settle asynchronously; the recipient lists what is shared
with DescribeBackups(Shared=true) and restores it only by its full ARN and only while it is
shared; unsharing takes it away; every request is held to botocore's model, and IAM is enforced
for roles in either account."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from stack import ACCOUNT, RECOVERY_ACCOUNT, wait_until

DR = "us-west-2"


@pytest.fixture
def moto(make_stack):
    return make_stack(serve_functions=False)


def ready_copy(stack) -> dict:
    _cluster_id, backup_id = stack.create_cluster()
    stack.hsm().copy_backup_to_region(BackupId=backup_id, DestinationRegion=DR)
    return wait_until("the copy", lambda: next((c for c in stack.copies(backup_id, DR) if c["BackupState"] == "READY"), None), timeout=60)


def shared_ids(stack, region: str = DR) -> list[str]:
    return [b["BackupId"] for b in stack.hsm(region, RECOVERY_ACCOUNT).describe_backups(Shared=True)["Backups"]]


def session_of(stack, role_arn: str, account: str | None = None, **extra: str) -> boto3.Session:
    """A session of the role, as Lambda (or another role) would get one."""
    credentials = stack.client("sts", DR, account).assume_role(RoleArn=role_arn, RoleSessionName="test", **extra)["Credentials"]
    return boto3.Session(aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"])


def associations(ram, share_arn: str, kind: str) -> dict[str, str]:
    found = ram.get_resource_share_associations(associationType=kind, resourceShareArns=[share_arn])["resourceShareAssociations"]
    return {a["associatedEntity"]: a["status"] for a in found}


def test_a_shared_copy_is_seen_and_restored_by_the_recipient_until_it_is_unshared(moto):
    copy = ready_copy(moto)
    arn = copy["BackupArn"]
    assert arn.startswith(f"arn:aws:cloudhsm:{DR}:{ACCOUNT}:backup/"), arn
    ram = moto.client("ram", DR)
    share = ram.create_resource_share(name="dr-copies", principals=[RECOVERY_ACCOUNT], allowExternalPrincipals=False,
                                      tags=[{"key": "cloudhsm-backup-copy:stack", "value": "test"}], clientToken="t-1")["resourceShare"]
    # The same client token gives the same share, not a second one.
    again = ram.create_resource_share(name="dr-copies", principals=[RECOVERY_ACCOUNT], allowExternalPrincipals=False,
                                      tags=[{"key": "cloudhsm-backup-copy:stack", "value": "test"}], clientToken="t-1")["resourceShare"]
    assert again["resourceShareArn"] == share["resourceShareArn"]
    made = ram.associate_resource_share(resourceShareArn=share["resourceShareArn"], resourceArns=[arn])["resourceShareAssociations"]
    assert [a["status"] for a in made] == ["ASSOCIATING"]
    assert shared_ids(moto) == []  # not yet: the association settles later
    wait_until("the association", lambda: associations(ram, share["resourceShareArn"], "RESOURCE").get(arn) == "ASSOCIATED", timeout=10)
    assert associations(ram, share["resourceShareArn"], "PRINCIPAL") == {RECOVERY_ACCOUNT: "ASSOCIATED"}
    assert shared_ids(moto) == [copy["BackupId"]]
    listed = moto.hsm(DR, RECOVERY_ACCOUNT).describe_backups(Shared=True)["Backups"][0]
    assert (listed["BackupArn"], listed["BackupState"], listed["Mode"]) == (arn, "READY", copy["Mode"])
    assert shared_ids(moto, "eu-west-1") == []  # a share is regional
    assert moto.hsm(DR, RECOVERY_ACCOUNT).describe_backups()["Backups"] == []  # not the recipient's own
    resources = moto.client("ram", DR).list_resources(resourceOwner="SELF", resourceArns=[arn])["resources"]
    assert [(r["arn"], r["resourceShareArn"]) for r in resources] == [(arn, share["resourceShareArn"])]
    seen = moto.client("ram", DR, RECOVERY_ACCOUNT).get_resource_shares(resourceOwner="OTHER-ACCOUNTS")["resourceShares"]
    assert [s["resourceShareArn"] for s in seen] == [share["resourceShareArn"]]

    # The recipient restores it by its full ARN only.
    recipient = moto.hsm(DR, RECOVERY_ACCOUNT)
    request = {"HsmType": copy["HsmType"], "Mode": copy["Mode"], "SubnetIds": ["subnet-0a1b2c3d"]}
    with pytest.raises(ClientError, match="not found"):
        recipient.create_cluster(SourceBackupId=copy["BackupId"], **request)
    cluster = recipient.create_cluster(SourceBackupId=arn, **request)["Cluster"]
    assert cluster["SourceBackupId"] == copy["BackupId"]
    assert moto.hsm(DR).describe_clusters(Filters={"clusterIds": [cluster["ClusterId"]]})["Clusters"] == []  # it is the recipient's

    ram.disassociate_resource_share(resourceShareArn=share["resourceShareArn"], resourceArns=[arn])
    wait_until("the unshare", lambda: associations(ram, share["resourceShareArn"], "RESOURCE").get(arn) == "DISASSOCIATED", timeout=10)
    assert shared_ids(moto) == []
    with pytest.raises(ClientError) as refused:
        recipient.create_cluster(SourceBackupId=arn, **request)
    assert refused.value.response["Error"]["Code"] == "CloudHsmAccessDeniedException"
    # The cluster made from it is unaffected.
    assert recipient.describe_clusters(Filters={"clusterIds": [cluster["ClusterId"]]})["Clusters"]


def test_what_ram_refuses_and_what_fails_later(moto):
    copy = ready_copy(moto)
    ram = moto.client("ram", DR)
    share = ram.create_resource_share(name="dr-copies", principals=[RECOVERY_ACCOUNT], allowExternalPrincipals=False)["resourceShare"]
    arn = share["resourceShareArn"]
    # Not an account the emulator knows how to share with, another region's backup, another
    # account's backup (a shared one cannot be shared on), a share that is not the caller's.
    with pytest.raises(ClientError, match="InvalidParameter"):
        ram.associate_resource_share(resourceShareArn=arn, principals=["o-exampleorgid"])
    other_region = copy["BackupArn"].replace(DR, "eu-west-1")
    with pytest.raises(ClientError, match="UnknownResource"):
        ram.associate_resource_share(resourceShareArn=arn, resourceArns=[other_region])
    recipient_ram = moto.client("ram", DR, RECOVERY_ACCOUNT)
    own = recipient_ram.create_resource_share(name="re-share", principals=[ACCOUNT])["resourceShare"]
    with pytest.raises(ClientError, match="OperationNotPermitted"):
        recipient_ram.associate_resource_share(resourceShareArn=own["resourceShareArn"], resourceArns=[copy["BackupArn"]])
    with pytest.raises(ClientError, match="UnknownResource"):
        recipient_ram.associate_resource_share(resourceShareArn=arn, resourceArns=[copy["BackupArn"]])
    # Outside the botocore model (maxResults is 1..500): a ValidationException, kept.
    with pytest.raises(ClientError, match="ValidationException"):
        ram.get_resource_shares(resourceOwner="SELF", maxResults=501)
    assert [v["operation"] for v in moto.control("POST", "violations")] == ["GetResourceShares"]

    # failShares: the association is accepted, then FAILED, and nothing is shared.
    moto.control("POST", "config", {"failShares": True})
    ram.associate_resource_share(resourceShareArn=arn, resourceArns=[copy["BackupArn"]])
    wait_until("the failure", lambda: associations(ram, arn, "RESOURCE").get(copy["BackupArn"]) == "FAILED", timeout=10)
    assert shared_ids(moto) == []
    # Tried again once the cause is gone, it is shared.
    moto.control("POST", "config", {"failShares": False})
    ram.associate_resource_share(resourceShareArn=arn, resourceArns=[copy["BackupArn"]])
    wait_until("the share", lambda: shared_ids(moto) == [copy["BackupId"]], timeout=10)

    # A principal outside the organization, on a share that allows none: FAILED, sees nothing.
    moto.control("POST", "config", {"organizationAccounts": [ACCOUNT]})
    strict = ram.create_resource_share(name="strict", principals=["111122223333"], allowExternalPrincipals=False)["resourceShare"]
    wait_until("the refusal", lambda: associations(ram, strict["resourceShareArn"], "PRINCIPAL").get("111122223333") == "FAILED", timeout=10)


def test_iam_decides_sharing_and_assuming_a_role_in_the_recipient_account(moto):
    copy = ready_copy(moto)
    iam = moto.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="sharer", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="sharer", PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Share", "Effect": "Allow", "Action": ["ram:CreateResourceShare", "ram:AssociateResourceShare"], "Resource": "*",
         "Condition": {"StringEquals": {"ram:RequestedResourceType": "cloudhsm:Backup"}}},
        {"Sid": "Assume", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{RECOVERY_ACCOUNT}:role/verifier"}]}))
    moto.control("POST", "config", {"enforceIam": True})
    session = session_of(moto, f"arn:aws:iam::{ACCOUNT}:role/sharer")
    ram = session.client("ram", region_name=DR, endpoint_url=moto.endpoint)
    share = moto.client("ram", DR).create_resource_share(name="dr-copies", principals=[RECOVERY_ACCOUNT], allowExternalPrincipals=False)["resourceShare"]
    # Sharing a backup also needs cloudhsm:PutResourcePolicy on it, which the role lacks.
    with pytest.raises(ClientError, match="AccessDenied"):
        ram.associate_resource_share(resourceShareArn=share["resourceShareArn"], resourceArns=[copy["BackupArn"]])
    denied = moto.control("POST", "denials")
    assert [d["action"] for d in denied[0]["denied"]] == ["cloudhsm:PutResourcePolicy"], denied

    # The recipient's role trusts only the sharer's role, with an external id.
    recipient_iam = moto.client("iam", account=RECOVERY_ACCOUNT)
    sts = session.client("sts", region_name=DR, endpoint_url=moto.endpoint)
    role_arn = f"arn:aws:iam::{RECOVERY_ACCOUNT}:role/verifier"
    with pytest.raises(ClientError, match="does not exist"):
        sts.assume_role(RoleArn=role_arn, RoleSessionName="verify")
    moto.control("POST", "denials")
    recipient_iam.create_role(RoleName="verifier", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/sharer"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": "the-stack"}}}]}))
    recipient_iam.put_role_policy(RoleName="verifier", PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "SeeShared", "Effect": "Allow", "Action": "cloudhsm:DescribeBackups", "Resource": "*"}]}))
    with pytest.raises(ClientError, match="trust policy"):
        sts.assume_role(RoleArn=role_arn, RoleSessionName="verify")
    moto.control("POST", "denials")
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="verify", ExternalId="the-stack")["Credentials"]
    verifier = boto3.Session(aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
                             aws_session_token=credentials["SessionToken"])
    hsm = verifier.client("cloudhsmv2", region_name=DR, endpoint_url=moto.endpoint)
    assert hsm.describe_backups(Shared=True)["Backups"] == []  # it acts in the recipient account
    with pytest.raises(ClientError, match="AccessDenied"):
        hsm.describe_clusters()
    denied = moto.control("POST", "denials")
    assert denied[0]["denied"][0]["principal"] == "verifier", denied


def test_the_recovery_accounts_role_lets_only_the_stacks_start_copy_role_list_what_is_shared(moto):
    """dr-account.yaml, deployed in the recovery account: the source stack's start-copy role may
    assume its role and list the backups shared with that account, and do nothing else; no other
    role of the source account may assume it."""
    copy = ready_copy(moto)
    verifier = moto.deploy_recovery_account()
    ram = moto.client("ram", DR)
    share = ram.create_resource_share(name="dr-copies", principals=[RECOVERY_ACCOUNT], allowExternalPrincipals=False)["resourceShare"]
    ram.associate_resource_share(resourceShareArn=share["resourceShareArn"], resourceArns=[copy["BackupArn"]])
    wait_until("the share", lambda: shared_ids(moto) == [copy["BackupId"]], timeout=10)
    iam = moto.client("iam")
    may_assume = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "Verify", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": verifier}]})
    # As the source stack's statement for it will be (the stack does not assume it yet).
    for role in ("StartCopyRole", "CopyStepRole"):
        iam.put_role_policy(RoleName=f"cloudhsm-backup-copy-{role}", PolicyName="verify", PolicyDocument=may_assume)
    moto.control("POST", "config", {"enforceIam": True})
    sweeps = session_of(moto, f"arn:aws:iam::{ACCOUNT}:role/cloudhsm-backup-copy-StartCopyRole")
    seen = sweeps.client("sts", region_name=DR, endpoint_url=moto.endpoint).assume_role(RoleArn=verifier, RoleSessionName="verify")["Credentials"]
    recovery = boto3.Session(aws_access_key_id=seen["AccessKeyId"], aws_secret_access_key=seen["SecretAccessKey"], aws_session_token=seen["SessionToken"])
    hsm = recovery.client("cloudhsmv2", region_name=DR, endpoint_url=moto.endpoint)
    assert [b["BackupId"] for b in hsm.describe_backups(Shared=True)["Backups"]] == [copy["BackupId"]]
    for forbidden in (lambda: hsm.describe_clusters(), lambda: hsm.create_cluster(SourceBackupId=copy["BackupArn"], HsmType=copy["HsmType"],
                                                                                   Mode=copy["Mode"], SubnetIds=["subnet-0a1b2c3d"])):
        with pytest.raises(ClientError, match="AccessDenied"):
            forbidden()
    denied = moto.control("POST", "denials")
    assert {d["denied"][0]["principal"] for d in denied} == {"cloudhsm-backup-copy-recovery-verifier"}, denied
    # Another role of the source account, allowed by its own policy, is refused by the trust policy.
    other = session_of(moto, f"arn:aws:iam::{ACCOUNT}:role/cloudhsm-backup-copy-CopyStepRole").client("sts", region_name=DR, endpoint_url=moto.endpoint)
    with pytest.raises(ClientError, match="trust policy"):
        other.assume_role(RoleArn=verifier, RoleSessionName="verify")
    moto.control("POST", "denials")
