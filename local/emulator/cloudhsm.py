"""CloudHSM as the local stack needs it, on top of moto 5.2.5: AWS-like ids and epoch
timestamps, DescribeBackups paged at 50 in the order and with the visibility the switches set,
CopyBackupToRegion, DeleteBackup and ModifyBackupAttributes, which moto lacks, and the backups other
accounts share with this one (DescribeBackups with Shared, see ram.py)."""

from __future__ import annotations

import base64
from copy import copy as shallow_copy
import datetime as dt
import hashlib
import json
import random
import string
import time
from typing import Any

from . import ram
from .state import ACCOUNT, Emulator

ID_ALPHABET = string.ascii_lowercase + "234567"
PAGE_MAX = 50


def new_id(prefix: str) -> str:
    return prefix + "".join(random.choice(ID_ALPHABET) for _ in range(11))


def default_mode(mode: str | None) -> str:
    """moto writes "DEFAULT" when CreateCluster names no Mode, a value AWS never returns (its
    enum is FIPS | NON_FIPS); the emulator makes such clusters, and their backups, FIPS."""
    return "FIPS" if mode in (None, "", "DEFAULT") else mode


def cluster_certificate(cluster_id: str) -> str:
    """A stand-in PEM for the cluster's certificate, distinct per cluster."""
    body = base64.b64encode(f"cluster certificate of {cluster_id}".encode()).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"


def install(emu: Emulator) -> None:
    from moto.cloudhsmv2 import models, responses
    from moto.cloudhsmv2.exceptions import ClientError

    _aws_like_ids_and_times(models, responses)
    _listing(emu, models, responses)
    _writes(emu, models, responses, ClientError)


def _aws_like_ids_and_times(models: Any, responses: Any) -> None:
    """Ids like AWS's (``backup-`` + 11 base32 characters) and timestamps as epoch seconds (moto
    writes zone-less ISO strings, which the AWS SDK for Rust rejects)."""
    def to_epoch(o: Any) -> Any:
        if isinstance(o, dt.datetime):
            if o.tzinfo is None:
                o = o.replace(tzinfo=dt.timezone.utc)
            return o.timestamp()
        raise TypeError(f"not JSON serializable: {type(o)}")

    responses.DateTimeEncoder.default = lambda self, o: to_epoch(o)

    original_backup_init = models.Backup.__init__

    def backup_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_backup_init(self, *args, **kwargs)
        region = kwargs.get("region_name", "us-east-1")
        self.region_name = region
        self.backup_id = new_id("backup-")
        self.backup_arn = f"arn:aws:cloudhsm:{region}:{ACCOUNT}:backup/{self.backup_id}"
        self.ready_at = None  # set on copies still being made
        self.ends_deleted = False
        self.call = None  # the CopyBackupToRegion entry that made this copy
        self.mode = default_mode(self.mode)

    models.Backup.__init__ = backup_init

    original_cluster_init = models.Cluster.__init__

    def cluster_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_cluster_init(self, *args, **kwargs)
        self.cluster_id = new_id("cluster-")
        self.mode = default_mode(self.mode)
        # An initialized, active cluster shows its cluster certificate (signed by the customer's
        # CA) and no CSR; moto lists all five as empty strings, which AWS never returns.
        self.certificates = {"ClusterCertificate": cluster_certificate(self.cluster_id)}

    models.Cluster.__init__ = cluster_init


def settle(emu: Emulator, backend: Any) -> None:
    from moto.cloudhsmv2 import models

    """Moves copies whose time has come from CREATE_IN_PROGRESS to READY or DELETED, and
    drops dead backups whose listing time is over."""
    for backup in backend.backups.values():
        if backup.backup_state != "CREATE_IN_PROGRESS" or backup.ready_at is None:
            continue
        if emu.copy_clock(backup.source_backup, backup.region_name) >= backup.ready_at:
            backup.backup_state = "DELETED" if backup.ends_deleted else "READY"
            if backup.ends_deleted:
                backup.delete_timestamp = models.utcnow()
    listed_for = {"DELETED": emu.config["deletedListedSeconds"], "PENDING_DELETION": emu.config["pendingDeletionListedSeconds"]}
    for backup_id, backup in list(backend.backups.items()):
        limit = listed_for.get(backup.backup_state)
        deleted_at = getattr(backup, "delete_timestamp", None)
        if limit is None or deleted_at is None:
            continue
        if deleted_at.tzinfo is None:
            deleted_at = deleted_at.replace(tzinfo=dt.timezone.utc)
        dead_for = emu.copy_clock(backup.source_backup, backup.region_name) - deleted_at.timestamp()
        if dead_for >= float(limit):
            del backend.backups[backup_id]

# moto's unpaginated listing (filters, CreateTimestamp order); paging is done below, after


def _listing(emu: Emulator, models: Any, responses: Any) -> None:
    """DescribeBackups: settled first, then ordered and filtered by the switches, paged at 50."""
    unpaginated = models.CloudHSMV2Backend.describe_backups.__wrapped__

    def ordered(backups: list, sort_ascending: bool | None) -> list:
        order = emu.config["listingOrder"]
        newest_first = not sort_ascending
        if order == "copyTimestamp":
            return sorted(backups, key=lambda b: b.copy_timestamp or b.create_timestamp, reverse=newest_first)
        if order == "unordered":
            return sorted(backups, key=lambda b: hashlib.sha256(b.backup_id.encode()).digest())
        if order == "oldestFirst":
            return sorted(backups, key=lambda b: b.create_timestamp)
        return backups

    def listed(backup: Any) -> bool:
        call = getattr(backup, "call", None)
        return call is None or time.time() >= call["at"] + float(emu.config["listingDelaySeconds"])

    def shared_backups(self: Any, filters: Any, sort_ascending: Any) -> list:
        """Shared=true: the other accounts' backups shared with this one here (see ram.py), as the
        recipient sees them (without their owner's tags: AWS does not say it shows them)."""
        arns = ram.shared_with(emu, self.account_id, self.region_name)
        found = []
        for owner in sorted({arn.split(":")[4] for arn in arns}):
            backend = models.cloudhsmv2_backends[owner][self.region_name]
            with emu.lock:
                settle(emu, backend)
            for backup in unpaginated(backend, filters=filters, shared=None, sort_ascending=sort_ascending):
                if backup.backup_arn in arns:
                    seen = shallow_copy(backup)
                    seen.tag_list = []
                    found.append(seen)
        return sorted(found, key=lambda b: b.create_timestamp, reverse=not sort_ascending)

    def describe_backups(self: Any, next_token: str | None = None, max_results: int | None = None, filters: Any = None, shared: Any = None, sort_ascending: Any = None) -> Any:
        if shared:
            everything = shared_backups(self, filters, sort_ascending)
        else:
            with emu.lock:
                settle(emu, self)
            everything = unpaginated(self, filters=filters, shared=shared, sort_ascending=sort_ascending)
        everything = [b for b in ordered(everything, sort_ascending) if listed(b)]
        start = int(next_token or 0)
        end = start + int(max_results or PAGE_MAX)
        backups, token = everything[start:end], (str(end) if end < len(everything) else None)
        # When a copy is first reported in its final state (what a poll loop notices), on its
        # own clock: the copy's detection time for the benchmark.
        with emu.lock:
            for backup in backups:
                call = getattr(backup, "call", None)
                if call is not None and call["seenFinalAt"] is None and backup.backup_state in ("READY", "DELETED"):
                    call["seenFinalAt"] = emu.copy_clock(backup.source_backup, backup.region_name)
        return backups, token

    models.CloudHSMV2Backend.describe_backups = describe_backups

    original_response_describe = responses.CloudHSMV2Response.describe_backups

    def response_describe_backups(self: Any) -> str:
        params = json.loads(self.body or "{}")
        with emu.lock:
            emu.describe_backups.append(
                {
                    "region": self.region,
                    "filters": {k: len(v) for k, v in (params.get("Filters") or {}).items()},
                    "nextToken": bool(params.get("NextToken")),
                }
            )
        return original_response_describe(self)

    responses.CloudHSMV2Response.describe_backups = response_describe_backups


def _writes(emu: Emulator, models: Any, responses: Any, ClientError: Any) -> None:  # noqa: N803 - moto's class
    """CopyBackupToRegion (a copy that becomes READY or DELETED later), DeleteBackup (to
    PENDING_DELETION) and ModifyBackupAttributes, with their responses."""
    def find(backend: Any, backup_id: str) -> Any:
        backup = backend.backups.get(backup_id)
        if backup is None:
            raise ClientError("CloudHsmResourceNotFoundException", f"Backup {backup_id} not found")
        return backup

    def copy_backup_to_region(self: Any, backup_id: str, destination_region: str, tag_list: Any) -> dict:
        with emu.lock:
            settle(emu, self)
        source = find(self, backup_id)
        if destination_region == self.region_name:
            raise ClientError("CloudHsmInvalidRequestException", "Destination region must differ from the source region")
        if source.backup_state != "READY":
            raise ClientError("CloudHsmInvalidRequestException", f"Backup {backup_id} is {source.backup_state}, not READY")
        destination = models.cloudhsmv2_backends[self.account_id][destination_region]
        copy = models.Backup(
            cluster_id=None,
            hsm_type=source.hsm_type,
            mode=source.mode,
            tag_list=list(tag_list) if tag_list else list(source.tag_list),
            source_backup=source.backup_id,
            source_cluster=source.cluster_id,
            source_region=self.region_name,
            region_name=destination_region,
        )
        with emu.lock:
            # The cap is checked and the copy added under one lock, so concurrent calls cannot
            # slip past it.
            cap = emu.config["maxCopiesInProgress"]
            if cap is not None:
                settle(emu, destination)
                in_progress = sum(b.backup_state == "CREATE_IN_PROGRESS" for b in destination.backups.values())
                if in_progress >= int(cap):
                    emu.faults_injected["cloudhsm:CopyBackupToRegion:copyCap"] = emu.faults_injected.get("cloudhsm:CopyBackupToRegion:copyCap", 0) + 1
                    raise ClientError(str(emu.config["copyCapErrorCode"]), f"{in_progress} copies are in progress to {destination_region} (at most {cap})")
            fail = bool(emu.config["failAllCopies"])
            if emu.config["failNextCopies"] > 0:
                emu.config["failNextCopies"] -= 1
                fail = True
            delay = float(emu.config["copyDelays"].get(backup_id, emu.config["copyDelaySeconds"]))
            created_at = emu.copy_clock(backup_id, destination_region)
            call = {
                "backupId": backup_id,
                "sourceRegion": self.region_name,
                "destinationRegion": destination_region,
                "copyBackupId": copy.backup_id,
                "endsDeleted": fail,
                "at": time.time(),
                # On the copy's own clock (see timeScale): when it was made, when it reaches
                # its final state, and when a DescribeBackups first reported that state.
                "createdAt": created_at,
                "finalAt": created_at + delay,
                "seenFinalAt": None,
            }
            emu.calls.append(call)
            # AWS: "CreateTimestamp of the destination backup will be the same as that of the source".
            copy.create_timestamp = source.create_timestamp
            copy.backup_state = "CREATE_IN_PROGRESS"
            copy.ready_at = created_at + delay
            copy.call = call
            copy.ends_deleted = fail
            destination.backups[copy.backup_id] = copy
        return {
            "CreateTimestamp": source.create_timestamp,
            "SourceBackup": source.backup_id,
            "SourceCluster": source.cluster_id,
            "SourceRegion": self.region_name,
        }

    def delete_backup(self: Any, backup_id: str) -> dict:
        backup = find(self, backup_id)
        backup.backup_state = "PENDING_DELETION"
        backup.delete_timestamp = models.utcnow()
        return backup.to_dict()

    def modify_backup_attributes(self: Any, backup_id: str, never_expires: bool) -> dict:
        backup = find(self, backup_id)
        backup.never_expires = bool(never_expires)
        return backup.to_dict()
    models.CloudHSMV2Backend.copy_backup_to_region = copy_backup_to_region
    models.CloudHSMV2Backend.delete_backup = delete_backup
    models.CloudHSMV2Backend.modify_backup_attributes = modify_backup_attributes

    def dump(payload: dict) -> str:
        return json.dumps(payload, cls=responses.DateTimeEncoder)

    def r_copy(self: Any) -> str:
        result = self.cloudhsmv2_backend.copy_backup_to_region(
            backup_id=self._get_param("BackupId"),
            destination_region=self._get_param("DestinationRegion"),
            tag_list=self._get_param("TagList"),
        )
        return dump({"DestinationBackup": result})

    def r_delete(self: Any) -> str:
        return dump({"Backup": self.cloudhsmv2_backend.delete_backup(self._get_param("BackupId"))})

    def r_modify(self: Any) -> str:
        backup = self.cloudhsmv2_backend.modify_backup_attributes(
            self._get_param("BackupId"), self._get_param("NeverExpires")
        )
        return dump({"Backup": backup})

    responses.CloudHSMV2Response.copy_backup_to_region = r_copy
    responses.CloudHSMV2Response.delete_backup = r_delete
    responses.CloudHSMV2Response.modify_backup_attributes = r_modify
