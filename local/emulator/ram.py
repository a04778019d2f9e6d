"""AWS RAM, as far as sharing CloudHSM backups needs it. moto 5.2.5's RAM refuses CloudHSM ARNs
and has no AssociateResourceShare, DisassociateResourceShare or ListResources, so the emulator
serves these operations itself: CreateResourceShare, AssociateResourceShare,
DisassociateResourceShare, GetResourceShares, GetResourceShareAssociations, ListResources and
DeleteResourceShare.

What it holds to, where AWS documents it: a share is regional and its principals see its
resources only in its region; only resources you own can be shared (a backup shared with you
cannot be shared on); a backup must be READY to be shared; associating and disassociating are
asynchronous (ASSOCIATING, then ASSOCIATED or FAILED; DISASSOCIATING, then DISASSOCIATED). Where
AWS is silent, the least convenient answer: a settle time (``ramSettleSeconds``), share names
that need not be unique (the caller finds its share by its own means), a principal outside the
organization (``organizationAccounts``) refused by a share that does not allow external
principals as a FAILED association rather than an error, and a switch that fails every new
resource association (``failShares``). Only accounts are emulated as principals (no
organization or OU ARNs, no invitations: every principal is taken to be in the organization
or refused), and only CloudHSM backups as resources.

A backup in an ASSOCIATED resource association of a share whose principal association for an
account is ASSOCIATED is shared with that account: ``shared_with`` says which, and the CloudHSM
parts (DescribeBackups with Shared, CreateCluster from the backup's ARN) ask it."""

from __future__ import annotations

import functools
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .state import Emulator

RESOURCE_TYPE = "cloudhsm:Backup"
BACKUP_ARN = re.compile(r"^arn:aws:cloudhsm:([a-z0-9-]+):([0-9]{12}):backup/(backup-[2-7a-zA-Z]{11,16})$")
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")


class RamError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Association:
    kind: str  # RESOURCE | PRINCIPAL
    entity: str
    status: str
    created: float
    updated: float
    settles_at: float
    # What it becomes at settles_at, and why.
    target: str
    message: str | None = None
    external: bool = False


@dataclass
class Share:
    arn: str
    name: str
    owner: str
    region: str
    allow_external: bool
    tags: list[dict]
    created: float
    token: str | None
    associations: dict[tuple[str, str], Association] = field(default_factory=dict)
    deleted: bool = False


# ----- what the CloudHSM parts ask -----------------------------------------------------------


def shared_with(emu: Emulator, account: str, region: str) -> set[str]:
    """The ARNs of the backups shared with `account` in `region`."""
    now = time.time()
    found: set[str] = set()
    with emu.lock:
        for share in emu.shares.values():
            if share.region != region or share.owner == account or share.deleted:
                continue
            _settle(share, now)
            principal = share.associations.get(("PRINCIPAL", account))
            if principal is None or principal.status != "ASSOCIATED":
                continue
            # The recipient's view may lag the owner's (sharedVisibleAfterSeconds).
            lag = float(emu.config["sharedVisibleAfterSeconds"])
            found |= {a.entity for a in share.associations.values()
                      if a.kind == "RESOURCE" and a.status == "ASSOCIATED" and now >= max(a.updated, principal.updated) + lag}
    return found


# ----- the operations ------------------------------------------------------------------------


def serve(emu: Emulator, operation: str, account: str, region: str, params: dict) -> tuple[int, dict, dict[str, str]]:
    """(HTTP status, JSON body, headers) for one request, AWS's rest-json errors included."""
    handlers = {
        "CreateResourceShare": _create,
        "AssociateResourceShare": lambda e, a, r, p: _change(e, a, r, p, associate=True),
        "DisassociateResourceShare": lambda e, a, r, p: _change(e, a, r, p, associate=False),
        "GetResourceShares": _get_shares,
        "GetResourceShareAssociations": _get_associations,
        "ListResources": _list_resources,
        "DeleteResourceShare": _delete,
    }
    handler = handlers.get(operation)
    try:
        if handler is None:
            raise RamError("OperationNotPermittedException", f"{operation} is not emulated")
        with emu.lock:
            return 200, handler(emu, account, region, params), {}
    except RamError as e:
        return _status(e.code), {"message": e.message}, {"x-amzn-ErrorType": e.code}


@functools.cache
def _status(code: str) -> int:
    import botocore.session

    try:
        shape = botocore.session.get_session().get_service_model("ram").shape_for(code)
        return int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
    except Exception:  # noqa: BLE001 - an unknown code is a client error
        return 400


def _create(emu: Emulator, account: str, region: str, p: dict) -> dict:
    token = p.get("clientToken")
    if token:
        for share in emu.shares.values():
            if (share.owner, share.region, share.token) == (account, region, token):
                if share.name != p["name"]:
                    raise RamError("IdempotentParameterMismatchException", f"client token {token} was used for another request")
                return {"resourceShare": _share_dict(share), "clientToken": token}
    now = time.time()
    share = Share(arn=f"arn:aws:ram:{region}:{account}:resource-share/{uuid.uuid4()}", name=p["name"], owner=account,
                  region=region, allow_external=bool(p.get("allowExternalPrincipals", True)), tags=list(p.get("tags") or []),
                  created=now, token=token)
    _associate(emu, share, p.get("resourceArns") or [], p.get("principals") or [], now)
    emu.shares[share.arn] = share
    return {"resourceShare": _share_dict(share), **({"clientToken": token} if token else {})}


def _delete(emu: Emulator, account: str, region: str, p: dict) -> dict:
    share = _own_share(emu, account, region, p["resourceShareArn"])
    now = time.time()
    # Its principals lose access at once; its client token is free again (AWS does not say
    # how long a token stays bound to what it made).
    for association in share.associations.values():
        association.status, association.updated = "DISASSOCIATED", now
    share.deleted, share.token = True, None
    return {"returnValue": True, **({"clientToken": p["clientToken"]} if p.get("clientToken") else {})}


def _change(emu: Emulator, account: str, region: str, p: dict, associate: bool) -> dict:
    share = _own_share(emu, account, region, p["resourceShareArn"])
    now = time.time()
    resources, principals = p.get("resourceArns") or [], p.get("principals") or []
    changed = (_associate(emu, share, resources, principals, now) if associate
               else _disassociate(share, resources, principals, now, now + float(emu.config["ramSettleSeconds"])))
    token = p.get("clientToken")
    return {"resourceShareAssociations": [_association_dict(share, a) for a in changed], **({"clientToken": token} if token else {})}


def _own_share(emu: Emulator, account: str, region: str, arn: str) -> Share:
    share = emu.shares.get(arn)
    if share is None or share.owner != account or share.region != region or share.deleted:
        raise RamError("UnknownResourceException", f"ResourceShare {arn} could not be found.")
    return share


def _associate(emu: Emulator, share: Share, resources: list[str], principals: list[str], now: float) -> list[Association]:
    planned: list[tuple[str, str, str, str | None, bool]] = []
    for arn in resources:
        target, message = _resource_outcome(emu, share, arn)
        planned.append(("RESOURCE", arn, target, message, False))
    for principal in principals:
        if not ACCOUNT_ID.match(principal):
            raise RamError("InvalidParameterException", f"principal {principal}: only account ids are emulated")
        if principal == share.owner:
            raise RamError("InvalidParameterException", "a resource share cannot name its own account as a principal")
        external = principal not in emu.config["organizationAccounts"]
        refused = external and not share.allow_external
        planned.append(("PRINCIPAL", principal, "FAILED" if refused else "ASSOCIATED",
                        "The principal is outside your organization and the share does not allow external principals" if refused else None,
                        external))
    changed = []
    settle = now + float(emu.config["ramSettleSeconds"])
    for kind, entity, target, message, external in planned:
        current = share.associations.get((kind, entity))
        if current is not None and current.status in ("ASSOCIATING", "ASSOCIATED"):
            changed.append(current)
            continue
        association = Association(kind, entity, "ASSOCIATING", now, now, settle, target, message, external)
        share.associations[(kind, entity)] = association
        changed.append(association)
    return changed


def _resource_outcome(emu: Emulator, share: Share, arn: str) -> tuple[str, str | None]:
    """ASSOCIATED, or FAILED and why; an ARN RAM would refuse outright raises."""
    match = BACKUP_ARN.match(arn)
    if not arn.startswith("arn:"):
        raise RamError("MalformedArnException", f"{arn} is not an ARN")
    if match is None:
        raise RamError("InvalidParameterException", f"{arn}: the emulator shares only CloudHSM backups")
    region, owner, backup_id = match.groups()
    if owner != share.owner:
        raise RamError("OperationNotPermittedException", f"{arn}: you can share only resources you own")
    if region != share.region:
        raise RamError("UnknownResourceException", f"{arn} is not in {share.region}")
    from moto.cloudhsmv2.models import cloudhsmv2_backends

    backup = cloudhsmv2_backends[owner][region].backups.get(backup_id)
    if backup is None:
        raise RamError("UnknownResourceException", f"{arn} could not be found")
    if emu.config["failShares"]:
        return "FAILED", "The resource could not be shared (injected: failShares)"
    if backup.backup_state != "READY":
        return "FAILED", f"The backup is {backup.backup_state}: only a READY backup can be shared"
    return "ASSOCIATED", None


def _disassociate(share: Share, resources: list[str], principals: list[str], now: float, settle: float) -> list[Association]:
    changed = []
    for kind, entity in [("RESOURCE", r) for r in resources] + [("PRINCIPAL", p) for p in principals]:
        current = share.associations.get((kind, entity))
        if current is None:
            raise RamError("UnknownResourceException", f"{entity} is not associated with {share.arn}")
        if current.status in ("ASSOCIATING", "ASSOCIATED", "FAILED"):
            current.status, current.target, current.message = "DISASSOCIATING", "DISASSOCIATED", None
            current.updated, current.settles_at = now, settle
        changed.append(current)
    return changed


def _settle(share: Share, now: float) -> None:
    for association in share.associations.values():
        if association.status in ("ASSOCIATING", "DISASSOCIATING") and now >= association.settles_at:
            association.status, association.updated = association.target, association.settles_at


def _page(items: list[dict], key: str, p: dict) -> dict:
    start = int(p.get("nextToken") or 0)
    end = start + int(p.get("maxResults") or 500)
    return {key: items[start:end], **({"nextToken": str(end)} if end < len(items) else {})}


def _visible_shares(emu: Emulator, account: str, region: str, owner: str) -> list[Share]:
    now = time.time()
    shares = [s for s in emu.shares.values() if s.region == region and not s.deleted]
    for share in shares:
        _settle(share, now)
    if owner == "SELF":
        return [s for s in shares if s.owner == account]
    if owner == "OTHER-ACCOUNTS":
        return [s for s in shares if s.owner != account and getattr(s.associations.get(("PRINCIPAL", account)), "status", None) == "ASSOCIATED"]
    raise RamError("InvalidParameterException", f"resourceOwner {owner} is not SELF or OTHER-ACCOUNTS")


def _get_shares(emu: Emulator, account: str, region: str, p: dict) -> dict:
    shares = _visible_shares(emu, account, region, p["resourceOwner"])
    if p.get("resourceShareArns"):
        shares = [s for s in shares if s.arn in p["resourceShareArns"]]
    if p.get("name"):
        shares = [s for s in shares if s.name == p["name"]]
    if p.get("resourceShareStatus") not in (None, "ACTIVE"):
        shares = []
    for wanted in p.get("tagFilters") or []:
        shares = [s for s in shares if any(t.get("key") == wanted.get("tagKey") and t.get("value") in (wanted.get("tagValues") or [t.get("value")]) for t in s.tags)]
    return _page([_share_dict(s) for s in shares], "resourceShares", p)


def _get_associations(emu: Emulator, account: str, region: str, p: dict) -> dict:
    shares = _visible_shares(emu, account, region, "SELF")
    if p.get("resourceShareArns"):
        shares = [s for s in shares if s.arn in p["resourceShareArns"]]
    found = []
    for share in shares:
        for a in share.associations.values():
            if a.kind != p["associationType"] or p.get("associationStatus") not in (None, a.status):
                continue
            if p.get("resourceArn") not in (None, a.entity) and a.kind == "RESOURCE":
                continue
            if p.get("principal") not in (None, a.entity) and a.kind == "PRINCIPAL":
                continue
            found.append(_association_dict(share, a))
    return _page(found, "resourceShareAssociations", p)


def _list_resources(emu: Emulator, account: str, region: str, p: dict) -> dict:
    if p.get("resourceType") not in (None, RESOURCE_TYPE) and str(p.get("resourceType")).lower() != RESOURCE_TYPE.lower():
        return _page([], "resources", p)
    shares = _visible_shares(emu, account, region, p["resourceOwner"])
    if p.get("resourceShareArns"):
        shares = [s for s in shares if s.arn in p["resourceShareArns"]]
    if p.get("principal"):
        shares = [s for s in shares if getattr(s.associations.get(("PRINCIPAL", p["principal"])), "status", None) == "ASSOCIATED"]
    found = []
    for share in shares:
        for a in share.associations.values():
            if a.kind == "RESOURCE" and a.status == "ASSOCIATED" and (not p.get("resourceArns") or a.entity in p["resourceArns"]):
                found.append({"arn": a.entity, "type": RESOURCE_TYPE, "resourceShareArn": share.arn, "status": "AVAILABLE",
                              "creationTime": a.created, "lastUpdatedTime": a.updated, "resourceRegionScope": "REGIONAL"})
    return _page(found, "resources", p)


def _share_dict(share: Share) -> dict:
    return {"resourceShareArn": share.arn, "name": share.name, "owningAccountId": share.owner,
            "allowExternalPrincipals": share.allow_external, "status": "ACTIVE", "tags": share.tags,
            "creationTime": share.created, "lastUpdatedTime": share.created, "featureSet": "STANDARD"}


def _association_dict(share: Share, a: Association) -> dict:
    found = {"resourceShareArn": share.arn, "resourceShareName": share.name, "associatedEntity": a.entity,
             "associationType": a.kind, "status": a.status, "creationTime": a.created, "lastUpdatedTime": a.updated,
             "external": a.external}
    return {**found, "statusMessage": a.message} if a.message else found
