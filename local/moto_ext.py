"""moto server, extended with what the local stack needs and moto 5.2.5 lacks.

Run as ``python local/moto_ext.py --port N``. On top of the pinned moto it:

* adds CloudHSM ``CopyBackupToRegion``: the copy appears in the destination region as
  CREATE_IN_PROGRESS, and after ``copyDelaySeconds`` turns READY, or DELETED when copies are
  switched to fail (``failNextCopies`` / ``failAllCopies``);
* adds CloudHSM ``DeleteBackup`` (to PENDING_DELETION) and ``ModifyBackupAttributes``, and
  gives a copy its source's CreateTimestamp, as AWS does;
* writes CloudHSM timestamps as epoch seconds (moto writes zone-less ISO strings, which the AWS
  SDK for Rust rejects), makes ids look like AWS's (``backup-`` + 11 base32 characters), and
  pages DescribeBackups at 50 like AWS;
* runs Step Functions executions for real (``execute_state_machine``), thousands at once (see
  sfn_scaling.py), and forwards Lambda invokes of the named functions to ``cargo lambda watch``
  (``--function NAME=URL/BINARY``);
* enforces IAM (``enforceIam``, see iam_enforce.py): requests signed by a role's session, or by
  the Step Functions engine as its state machine's role, are authorized against the role's
  policies in moto's IAM, resources and conditions included; ``GET /_ext/denials`` lists the
  denials and ``GET /_ext/authorizations`` the statements that allowed something;
* compresses time for benchmarks (``timeScale``): Wait states sleep a fraction of their
  seconds and the tracked copy's clock skips the rest; ``copyDelays`` sets a copy time per
  source backup, and each ``/_ext/calls`` entry reports when its copy was made, finished and
  was first reported finished, on that clock;
* takes the least convenient answer where AWS is silent, as switches: dead backups drop out of
  listings (``deletedListedSeconds``, ``pendingDeletionListedSeconds``: AWS documents nothing
  for DELETED, 7 days for PENDING_DELETION), DescribeBackups' order (``listingOrder``), new
  copies listed late (``listingDelaySeconds``), API rate limits per service, operation and
  region (``rateLimits``, token buckets) and a cap on copies in progress per destination
  region (``maxCopiesInProgress``);
* injects faults on request: throttling, 5xx and slow answers, per service and operation, at
  a rate, from a seeded generator (the ``faults`` switch; ``GET /_ext/faults`` counts them);
* checks every CloudHSM, Step Functions and EventBridge request against botocore's model of
  its operation (``enforceContract``, see api_contract.py) and answers a violation with AWS's
  ValidationException; ``GET /_ext/violations`` lists them (``POST`` clears);
* serves a small control API: ``GET/POST /_ext/config`` (the switches above),
  ``GET /_ext/calls`` (every CopyBackupToRegion made) and ``POST /_ext/backups`` (``{"clusterId", "ageHours"}``: a READY backup of a cluster, taken
  that long ago, as the service makes daily), ``GET /_ext/requests`` (API requests
  served, by service, operation and region, and each DescribeBackups' filter sizes; ``POST``
  resets them), for tests to count.

Everything else is moto as released.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import random
import re
import string
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import api_contract
import iam_enforce
import sfn_scaling

ID_ALPHABET = string.ascii_lowercase + "234567"
PAGE_MAX = 50

# Switches, changed through POST /_ext/config.
# moto's default account, which the local stack runs in.
ACCOUNT = "123456789012"
CONFIG: dict[str, Any] = {
    "copyDelaySeconds": 2.0,
    "failNextCopies": 0,
    "failAllCopies": False,
    # Fault injection: a list of rules, each
    #   {"service": "cloudhsm" | "states" | "*", "operation": "DescribeBackups" | "*",
    #    "kind": "throttle" | "5xx" | "5xxAfter" | "slow" | a list of them, "rate": 0.3,
    #    "delaySeconds": 30}
    # ("5xxAfter" carries the request out, then answers 5xx.)
    # A request matching a rule fails (or, for "slow", is held for delaySeconds first) with
    # probability `rate`, drawn from a generator seeded with `faultSeed`: the same seed and the
    # same sequence of requests inject the same faults.
    "faults": [],
    "faultSeed": 0,
    # Time compression for benchmarks: a Wait state of N seconds sleeps N / timeScale real
    # seconds, and the clock of the copy its execution tracks jumps ahead by the rest, so the
    # copy ages as if the execution had really waited N seconds. 1 = real time.
    "timeScale": 1.0,
    # Per source backup id: how long its copies take (emulated seconds), overriding
    # copyDelaySeconds.
    "copyDelays": {},
    # How long dead backups stay listed (AWS does not document it; null = forever): a DELETED
    # backup (a failed copy) after deletedListedSeconds, a PENDING_DELETION one after
    # pendingDeletionListedSeconds (AWS: restorable for 7 days, then gone).
    "deletedListedSeconds": None,
    "pendingDeletionListedSeconds": 7 * 86400,
    # DescribeBackups' order, which AWS leaves undefined: "createTimestamp" (moto's, newest first
    # unless SortAscending), "copyTimestamp" (copies by when they were copied), "oldestFirst"
    # (SortAscending ignored), "unordered" (a fixed arbitrary order, the same on every page).
    "listingOrder": "createTimestamp",
    # A new copy is listed only this long after CopyBackupToRegion (eventual consistency).
    "listingDelaySeconds": 0.0,
    # Every request to these services (from the functions and from the state machine's
    # integrations, which call back over HTTP) is checked against botocore's model of the
    # operation; a violation answers AWS's ValidationException and is kept for GET /_ext/violations.
    "enforceContract": True,
    # Authorize every request signed by a role against its policies (see iam_enforce.py). The
    # stack turns it on once it has made the template's roles.
    "enforceIam": False,
    # API rate limits (AWS publishes few): token buckets, one per rule, region and (for a rule
    # naming "*") operation. Each rule is {"service": "cloudhsm" | "states" | ..., "operation":
    # "StartExecution" | "*", "perSecond": 5, "burst": 5}; beyond it the request is answered
    # with AWS's ThrottlingException. GET /_ext/faults counts them as "<service>:<op>:rateLimit".
    "rateLimits": [],
    # Copies CREATE_IN_PROGRESS per destination region above which CopyBackupToRegion is refused
    # (null = no cap), with this error code.
    "maxCopiesInProgress": None,
    "copyCapErrorCode": "ThrottlingException",
}
# Token buckets of the rate limits: key -> [tokens, last refill (monotonic seconds)].
BUCKETS: dict[tuple, list[float]] = {}
# Signing name in the request's credential scope -> botocore service name.
CONTRACT_SERVICES = {"cloudhsm": "cloudhsmv2", "states": "stepfunctions", "events": "events"}
# Requests that broke the API contract: {"service", "operation", "violations"}.
VIOLATIONS: list[dict[str, Any]] = []
# Faults injected so far, as {"<service>:<Operation>:<kind>": count}.
FAULTS_INJECTED: dict[str, int] = {}
FAULT_RANDOM = random.Random(0)
CALLS: list[dict[str, Any]] = []
# API requests served, as {"<service>:<Operation>": {"<region>": count}}.
REQUESTS: dict[str, dict[str, int]] = {}
# Every DescribeBackups: region, filter sizes, whether it asked for a next page.
DESCRIBE_BACKUPS: list[dict[str, Any]] = []
LOCK = threading.Lock()
# Emulated seconds skipped by compressed Wait states, per (source backup id, destination region):
# the clock of that copy runs ahead of real time by this much.
SKIPPED: dict[tuple[str, str], float] = {}


def copy_clock(source_backup: str | None, region: str) -> float:
    """Now, on the clock of the copies of `source_backup` in `region` (see timeScale)."""
    return time.time() + SKIPPED.get((source_backup or "", region), 0.0)
# Set by install_cloudhsm: makes an aged backup of a cluster (POST /_ext/backups), seeds a
# fleet's history (POST /_ext/seed).
MAKE_BACKUP: Any = None
SEED: Any = None


def new_id(prefix: str) -> str:
    return prefix + "".join(random.choice(ID_ALPHABET) for _ in range(11))


def install_cloudhsm() -> None:
    from moto.cloudhsmv2 import models, responses
    from moto.cloudhsmv2.exceptions import ClientError

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
        self.backup_arn = f"arn:aws:cloudhsm:{region}:123456789012:backup/{self.backup_id}"
        self.ready_at = None  # set on copies still being made
        self.ends_deleted = False
        self.call = None  # the CopyBackupToRegion entry that made this copy

    models.Backup.__init__ = backup_init

    original_cluster_init = models.Cluster.__init__

    def cluster_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_cluster_init(self, *args, **kwargs)
        self.cluster_id = new_id("cluster-")

    models.Cluster.__init__ = cluster_init

    def settle(backend: Any) -> None:
        """Moves copies whose time has come from CREATE_IN_PROGRESS to READY or DELETED, and
        drops dead backups whose listing time is over."""
        for backup in backend.backups.values():
            if backup.backup_state != "CREATE_IN_PROGRESS" or backup.ready_at is None:
                continue
            if copy_clock(backup.source_backup, backup.region_name) >= backup.ready_at:
                backup.backup_state = "DELETED" if backup.ends_deleted else "READY"
                if backup.ends_deleted:
                    backup.delete_timestamp = models.utcnow()
        listed_for = {"DELETED": CONFIG["deletedListedSeconds"], "PENDING_DELETION": CONFIG["pendingDeletionListedSeconds"]}
        for backup_id, backup in list(backend.backups.items()):
            limit = listed_for.get(backup.backup_state)
            deleted_at = getattr(backup, "delete_timestamp", None)
            if limit is None or deleted_at is None:
                continue
            if deleted_at.tzinfo is None:
                deleted_at = deleted_at.replace(tzinfo=dt.timezone.utc)
            dead_for = copy_clock(backup.source_backup, backup.region_name) - deleted_at.timestamp()
            if dead_for >= float(limit):
                del backend.backups[backup_id]

    # moto's unpaginated listing (filters, CreateTimestamp order); paging is done below, after
    # the order and visibility switches.
    unpaginated = models.CloudHSMV2Backend.describe_backups.__wrapped__

    def ordered(backups: list, sort_ascending: bool | None) -> list:
        order = CONFIG["listingOrder"]
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
        return call is None or time.time() >= call["at"] + float(CONFIG["listingDelaySeconds"])

    def describe_backups(self: Any, next_token: str | None = None, max_results: int | None = None, filters: Any = None, shared: Any = None, sort_ascending: Any = None) -> Any:
        with LOCK:
            settle(self)
        everything = unpaginated(self, filters=filters, shared=shared, sort_ascending=sort_ascending)
        everything = [b for b in ordered(everything, sort_ascending) if listed(b)]
        start = int(next_token or 0)
        end = start + int(max_results or PAGE_MAX)
        backups, token = everything[start:end], (str(end) if end < len(everything) else None)
        # When a copy is first reported in its final state (what a poll loop notices), on its
        # own clock: the copy's detection time for the benchmark.
        with LOCK:
            for backup in backups:
                call = getattr(backup, "call", None)
                if call is not None and call["seenFinalAt"] is None and backup.backup_state in ("READY", "DELETED"):
                    call["seenFinalAt"] = copy_clock(backup.source_backup, backup.region_name)
        return backups, token

    models.CloudHSMV2Backend.describe_backups = describe_backups

    original_response_describe = responses.CloudHSMV2Response.describe_backups

    def response_describe_backups(self: Any) -> str:
        params = json.loads(self.body or "{}")
        with LOCK:
            DESCRIBE_BACKUPS.append(
                {
                    "region": self.region,
                    "filters": {k: len(v) for k, v in (params.get("Filters") or {}).items()},
                    "nextToken": bool(params.get("NextToken")),
                }
            )
        return original_response_describe(self)

    responses.CloudHSMV2Response.describe_backups = response_describe_backups

    def find(backend: Any, backup_id: str) -> Any:
        backup = backend.backups.get(backup_id)
        if backup is None:
            raise ClientError("CloudHsmResourceNotFoundException", f"Backup {backup_id} not found")
        return backup

    def copy_backup_to_region(self: Any, backup_id: str, destination_region: str, tag_list: Any) -> dict:
        with LOCK:
            settle(self)
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
        with LOCK:
            # The cap is checked and the copy added under one lock, so concurrent calls cannot
            # slip past it.
            cap = CONFIG["maxCopiesInProgress"]
            if cap is not None:
                settle(destination)
                in_progress = sum(b.backup_state == "CREATE_IN_PROGRESS" for b in destination.backups.values())
                if in_progress >= int(cap):
                    FAULTS_INJECTED["cloudhsm:CopyBackupToRegion:copyCap"] = FAULTS_INJECTED.get("cloudhsm:CopyBackupToRegion:copyCap", 0) + 1
                    raise ClientError(str(CONFIG["copyCapErrorCode"]), f"{in_progress} copies are in progress to {destination_region} (at most {cap})")
            fail = bool(CONFIG["failAllCopies"])
            if CONFIG["failNextCopies"] > 0:
                CONFIG["failNextCopies"] -= 1
                fail = True
            delay = float(CONFIG["copyDelays"].get(backup_id, CONFIG["copyDelaySeconds"]))
            created_at = copy_clock(backup_id, destination_region)
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
            CALLS.append(call)
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

    def make_backup(region: str, cluster_id: str, age_hours: float) -> dict:
        """A READY backup of an existing cluster, taken `age_hours` ago (AWS makes these daily)."""
        backend = models.cloudhsmv2_backends["123456789012"][region]
        cluster = backend.clusters.get(cluster_id)
        if cluster is None:
            raise KeyError(f"no cluster {cluster_id} in {region}")
        backup = models.Backup(
            cluster_id=cluster_id,
            hsm_type=cluster.hsm_type,
            mode=cluster.mode,
            tag_list=list(cluster.tag_list),
            region_name=region,
        )
        backup.create_timestamp = models.utcnow() - dt.timedelta(hours=age_hours)
        backend.backups[backup.backup_id] = backup
        return {"BackupId": backup.backup_id}

    def seed(region: str, clusters: int, backups: int, every_hours: float, copy_to: list[str]) -> dict:
        """A fleet's history at once (for benchmarks): `clusters` clusters whose `backups` READY
        backups were taken one every `every_hours` hours (newest half an interval ago), each with a READY copy
        in every `copy_to` region, as this tool would have made it."""
        backend = models.cloudhsmv2_backends["123456789012"][region]
        ids = []
        cluster_ids = [
            backend.create_cluster(None, "hsm2m.medium", None, ["subnet-0a1b2c3d"], None, None, None)["ClusterId"]
            for _ in range(clusters)
        ]
        # create_cluster makes a backup of its own; the seeded history replaces it.
        for backup_id in [b.backup_id for b in backend.backups.values() if b.cluster_id in cluster_ids]:
            del backend.backups[backup_id]
        now = models.utcnow()
        for i in range(backups):
            cluster_id = cluster_ids[i % clusters]
            backup = models.Backup(cluster_id=cluster_id, hsm_type="hsm2m.medium", mode="DEFAULT", tag_list=[], region_name=region)
            # Half an interval off the hour, so no backup sits exactly on a window's edge.
            backup.create_timestamp = now - dt.timedelta(hours=every_hours * (i // clusters + 0.5))
            backend.backups[backup.backup_id] = backup
            ids.append(backup.backup_id)
            for destination in copy_to:
                copy = models.Backup(
                    cluster_id=None,
                    hsm_type="hsm2m.medium",
                    mode="DEFAULT",
                    tag_list=[{"Key": "cloudhsm-backup-copy:source-backup-id", "Value": backup.backup_id},
                              {"Key": "cloudhsm-backup-copy:source-region", "Value": region}],
                    source_backup=backup.backup_id,
                    source_cluster=cluster_id,
                    source_region=region,
                    region_name=destination,
                )
                copy.create_timestamp = backup.create_timestamp
                models.cloudhsmv2_backends["123456789012"][destination].backups[copy.backup_id] = copy
        return {"clusters": cluster_ids, "backups": len(ids)}

    global MAKE_BACKUP, SEED
    MAKE_BACKUP = make_backup
    SEED = seed

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


def install_time_scale() -> None:
    """Compresses Wait states by ``timeScale`` and moves the clock of the copy that the waiting
    execution tracks (its input's sourceBackupId and destinationRegion) ahead by the time not
    slept, so a copy that takes hours is tracked, check for check, in seconds."""
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    original = WaitFunction._wait_interval

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        scale = float(CONFIG["timeScale"])
        if scale == 1.0 or wait_seconds <= 0:
            return original(self, env, wait_seconds)
        job = env.states.context_object.context_object_data["Execution"]["Input"]
        if isinstance(job, str):
            job = json.loads(job)
        key = (str(job.get("sourceBackupId", "")), str(job.get("destinationRegion", "")))
        started = time.monotonic()
        # Returns early when the execution is stopped.
        env.program_state_event.wait(wait_seconds / scale)
        slept = time.monotonic() - started
        with LOCK:
            SKIPPED[key] = SKIPPED.get(key, 0.0) + max(0.0, wait_seconds - slept)

    WaitFunction._wait_interval = wait_interval


def install_lambda_forwarding(routes: dict[str, str], concurrency: int) -> None:
    """Invokes of these function names (or ARNs) go to `cargo lambda watch`: `routes` maps a
    function name to ``http://host:port/<binary>``, the watcher serving that function (each
    function has its own, with its own environment and role). At most `concurrency` invokes per
    function at a time (the instances it runs): cargo-lambda 1.9.2 stops answering when a
    hundred invokes wait on it at once; the others wait here, as Lambda's own queue would."""
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda_simple.models import LambdaSimpleBackend

    slots = {name: threading.BoundedSemaphore(concurrency) for name in routes}

    def forward(name: str, body: Any, response_headers: Any) -> bytes:
        with slots[name]:
            return send(name, body, response_headers)

    def send(name: str, body: Any, response_headers: Any) -> bytes:
        data = body if isinstance(body, bytes) else (body or "{}").encode()
        server, binary = routes[name].rsplit("/", 1)
        request = urllib.request.Request(
            f"{server}/2015-03-31/functions/{binary}/invocations",
            data=data,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                payload = response.read()
                error = response.headers.get("X-Amz-Function-Error")
        except urllib.error.HTTPError as e:
            payload = e.read()
            error = e.headers.get("X-Amz-Function-Error") or "Unhandled"
        if error:
            response_headers["x-amz-function-error"] = error
        return payload

    # Without Docker moto serves Lambda from LambdaSimpleBackend, which echoes the payload.
    for backend_class in (LambdaBackend, LambdaSimpleBackend):
        original = backend_class.invoke

        def invoke(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any, _original: Any = original) -> Any:
            name = function_name.split(":")[6] if function_name.startswith("arn:") else function_name
            if name not in routes:
                return _original(self, function_name, qualifier, body, headers, response_headers)
            return forward(name, body, response_headers)

        backend_class.invoke = invoke


class Control:
    """WSGI middleware serving /_ext/* and passing everything else to moto."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/_ext/"):
            operation = self.count(environ)
            invalid = self.check_contract(environ, operation)
            if invalid is not None:
                return self.reply(start_response, "400 Bad Request", invalid)
            denied = self.check_iam(environ)
            if denied is not None:
                status, body, headers = denied
                return self.reply(start_response, status, body, headers)
            if self.rate_limited(operation):
                return self.reply(start_response, "400 Bad Request", {"__type": "ThrottlingException", "message": "Rate exceeded"})
            fault = self.draw_fault(operation)
            if fault is not None:
                kind, delay = fault
                if kind == "slow":
                    time.sleep(delay)
                elif kind == "5xxAfter":
                    # The request is carried out, then answered 5xx: the caller cannot know.
                    result = self.app(environ, lambda *_args, **_kwargs: (lambda _data: None))
                    b"".join(result)
                    if hasattr(result, "close"):
                        result.close()
                    return self.reply(start_response, "500 Internal Server Error", {"__type": "InternalFailure", "message": "injected 5xx after the request was carried out"})
                elif kind == "throttle":
                    return self.reply(start_response, "400 Bad Request", {"__type": "ThrottlingException", "message": "Rate exceeded (injected)"})
                else:
                    return self.reply(start_response, "500 Internal Server Error", {"__type": "InternalFailure", "message": "injected 5xx"})
            return self.app(environ, start_response)
        if path == "/_ext/config" and environ["REQUEST_METHOD"] == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            changes = json.loads(environ["wsgi.input"].read(length) or b"{}")
            unknown = set(changes) - set(CONFIG)
            if unknown:
                return self.reply(start_response, "400 Bad Request", {"error": f"unknown switches {sorted(unknown)}"})
            with LOCK:
                CONFIG.update(changes)
                if "rateLimits" in changes:
                    BUCKETS.clear()
                if "faultSeed" in changes:
                    FAULT_RANDOM.seed(CONFIG["faultSeed"])
        if path == "/_ext/config":
            with LOCK:
                return self.reply(start_response, "200 OK", CONFIG)
        if path == "/_ext/violations":
            with LOCK:
                if environ["REQUEST_METHOD"] == "POST":
                    VIOLATIONS.clear()
                return self.reply(start_response, "200 OK", VIOLATIONS)
        if path in ("/_ext/denials", "/_ext/authorizations"):
            with LOCK:
                # POST answers what was recorded, then clears it.
                found = list(iam_enforce.DENIALS) if path == "/_ext/denials" else sorted(iam_enforce.ALLOWED)
                if environ["REQUEST_METHOD"] == "POST":
                    iam_enforce.DENIALS.clear()
                    iam_enforce.ALLOWED.clear()
                return self.reply(start_response, "200 OK", found)
        if path == "/_ext/faults":
            with LOCK:
                return self.reply(start_response, "200 OK", FAULTS_INJECTED)
        if path == "/_ext/calls":
            with LOCK:
                return self.reply(start_response, "200 OK", {"copyBackupToRegion": CALLS})
        if path == "/_ext/backups" and environ["REQUEST_METHOD"] == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            spec = json.loads(environ["wsgi.input"].read(length) or b"{}")
            try:
                made = MAKE_BACKUP(spec.get("region", "us-east-1"), spec["clusterId"], float(spec.get("ageHours", 0)))
            except (KeyError, ValueError) as e:
                return self.reply(start_response, "400 Bad Request", {"error": str(e)})
            return self.reply(start_response, "200 OK", made)
        if path == "/_ext/seed" and environ["REQUEST_METHOD"] == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            spec = json.loads(environ["wsgi.input"].read(length) or b"{}")
            made = SEED(
                spec.get("region", "us-east-1"),
                int(spec["clusters"]),
                int(spec["backups"]),
                float(spec.get("everyHours", 24)),
                list(spec.get("copyTo", [])),
            )
            return self.reply(start_response, "200 OK", made)
        if path == "/_ext/requests":
            with LOCK:
                if environ["REQUEST_METHOD"] == "POST":
                    REQUESTS.clear()
                    DESCRIBE_BACKUPS.clear()
                return self.reply(start_response, "200 OK", {"counts": REQUESTS, "describeBackups": DESCRIBE_BACKUPS})
        return self.reply(start_response, "404 Not Found", {"error": path})

    @staticmethod
    def count(environ: dict) -> tuple[str, str, str] | None:
        """Counts JSON-protocol API requests by service, operation and signing region."""
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        scope = re.search(r"Credential=[^/]+/\d+/([^/]+)/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
        if not target or not scope:
            return None
        region, service = scope.groups()
        operation = target.rsplit(".", 1)[-1]
        key = f"{service}:{operation}"
        with LOCK:
            by_region = REQUESTS.setdefault(key, {})
            by_region[region] = by_region.get(region, 0) + 1
        return service, operation, region

    @staticmethod
    def check_contract(environ: dict, operation: tuple[str, str, str] | None) -> dict | None:
        """The ValidationException body for a request outside the API contract, else None. The
        body is read here and put back for moto."""
        service = CONTRACT_SERVICES.get(operation[0]) if operation else None
        if service is None or operation is None or not CONFIG["enforceContract"]:
            return None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            found = ["the body is not JSON"]
        else:
            found = api_contract.violations(service, operation[1], params) if isinstance(params, dict) else ["the body is not a JSON object"]
        if not found:
            return None
        with LOCK:
            VIOLATIONS.append({"service": service, "operation": operation[1], "violations": [str(v) for v in found]})
        return api_contract.error_response(found)

    @staticmethod
    def check_iam(environ: dict) -> tuple[str, dict, dict[str, str]] | None:
        """IAM's answer when it denies the request (enforceIam), else None."""
        if not CONFIG["enforceIam"]:
            return None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        return iam_enforce.check_request(environ, body, ACCOUNT)

    @staticmethod
    def rate_limited(operation: tuple[str, str, str] | None) -> bool:
        """Takes a token from every bucket the request falls in; False when all had one."""
        if operation is None:
            return False
        service, name, region = operation
        now = time.monotonic()
        with LOCK:
            for i, rule in enumerate(CONFIG["rateLimits"]):
                if rule.get("service", "*") not in ("*", service) or rule.get("operation", "*") not in ("*", name):
                    continue
                rate, burst = float(rule["perSecond"]), float(rule.get("burst", rule["perSecond"]))
                bucket = BUCKETS.setdefault((i, region, rule.get("operation", "*")), [burst, now])
                bucket[0] = min(burst, bucket[0] + (now - bucket[1]) * rate)
                bucket[1] = now
                if bucket[0] < 1:
                    key = f"{service}:{name}:rateLimit"
                    FAULTS_INJECTED[key] = FAULTS_INJECTED.get(key, 0) + 1
                    return True
                bucket[0] -= 1
        return False

    @staticmethod
    def draw_fault(operation: tuple[str, str, str] | None) -> tuple[str, float] | None:
        """The fault to inject into this request, if a rule matches and the draw says so."""
        if operation is None:
            return None
        service, name, _region = operation
        with LOCK:
            for rule in CONFIG["faults"]:
                if rule.get("service", "*") not in ("*", service) or rule.get("operation", "*") not in ("*", name):
                    continue
                if FAULT_RANDOM.random() < float(rule.get("rate", 1.0)):
                    kind = rule.get("kind", "5xx")
                    if isinstance(kind, list):
                        kind = FAULT_RANDOM.choice(kind)
                    key = f"{service}:{name}:{kind}"
                    FAULTS_INJECTED[key] = FAULTS_INJECTED.get(key, 0) + 1
                    return kind, float(rule.get("delaySeconds", 30))
        return None

    @staticmethod
    def reply(start_response: Any, status: str, body: Any, headers: dict[str, str] | None = None) -> list[bytes]:
        data = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *(headers or {}).items()])
        return [data]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--function", action="append", default=[], metavar="NAME=http://HOST:PORT/BINARY",
                        help="forward invokes of function NAME to the cargo lambda watch serving BINARY there")
    parser.add_argument("--lambda-concurrency", type=int, default=4, help="instances cargo lambda watch runs per function")
    parser.add_argument("--copy-delay", type=float, default=CONFIG["copyDelaySeconds"])
    parser.add_argument("--no-execute", action="store_true", help="record Step Functions executions without running them")
    args = parser.parse_args()

    # Step Functions' Lambda tasks call back into this server on MOTO_PORT.
    os.environ["MOTO_PORT"] = str(args.port)
    CONFIG["copyDelaySeconds"] = args.copy_delay

    from moto.core.config import default_user_config

    default_user_config["stepfunctions"]["execute_state_machine"] = not args.no_execute
    default_user_config["lambda"]["use_docker"] = False
    install_cloudhsm()
    install_time_scale()
    if args.function:
        install_lambda_forwarding(dict(f.split("=", 1) for f in args.function), args.lambda_concurrency)

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    app = Control(DomainDispatcherApplication(create_backend_app))
    if not args.no_execute:
        # The engine's own calls go through `app` in-process (see sfn_scaling.py).
        sfn_scaling.install(app)
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
