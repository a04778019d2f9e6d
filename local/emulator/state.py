"""The emulator's state: its switches (``POST /_ext/config``) and what it has counted and
recorded, in one object shared by the parts that patch moto and the control API."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

# moto's default account, which the local stack runs in, and the recovery account copies are
# shared with (see ram.py). Both are in one organization unless organizationAccounts says not.
ACCOUNT = "123456789012"
RECOVERY_ACCOUNT = "210987654321"

DEFAULTS: dict[str, Any] = {
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
    # Clusters restored from a backup (see restore.py): ACTIVE this many seconds after
    # CreateCluster, or DEGRADED with failRestores; at most clusterQuota clusters per region
    # (AWS's default quota is 4; null = no limit), beyond it refused with clusterQuotaErrorCode
    # (AWS does not say which); a deleted cluster is DELETE_IN_PROGRESS for deleteDelaySeconds,
    # then still listed as DELETED for deletedClusterListedSeconds (AWS does not say how long;
    # Terraform's waiter treats a listed DELETED cluster as gone).
    "restoreDelaySeconds": 3.0,
    "failRestores": False,
    "clusterQuota": 4,
    "clusterQuotaErrorCode": "CloudHsmInvalidRequestException",
    "deleteDelaySeconds": 2.0,
    "deletedClusterListedSeconds": 10.0,
    # AWS RAM (see ram.py): an association is ASSOCIATING (or DISASSOCIATING) for this long before
    # it settles (AWS documents both as asynchronous and gives no time); with failShares every
    # new resource association ends FAILED; principals outside organizationAccounts cannot be
    # shared with by a share that does not allow external principals.
    "ramSettleSeconds": 1.0,
    "failShares": False,
    # The recipient lists a shared backup only this long after the owner's RAM says it is
    # ASSOCIATED (AWS does not say how soon a share becomes visible to the recipient).
    "sharedVisibleAfterSeconds": 0.0,
    "organizationAccounts": [ACCOUNT, RECOVERY_ACCOUNT],
}


@dataclass
class Emulator:
    config: dict[str, Any] = field(default_factory=lambda: dict(DEFAULTS, copyDelays={}, faults=[], rateLimits=[], organizationAccounts=[ACCOUNT, RECOVERY_ACCOUNT]))
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Token buckets of the rate limits: key -> [tokens, last refill (monotonic seconds)].
    buckets: dict[tuple, list[float]] = field(default_factory=dict)
    # Requests that broke the API contract: {"service", "operation", "violations"}.
    violations: list[dict[str, Any]] = field(default_factory=list)
    # Faults injected so far, as {"<service>:<Operation>:<kind>": count}.
    faults_injected: dict[str, int] = field(default_factory=dict)
    fault_random: random.Random = field(default_factory=lambda: random.Random(0))
    # Every CopyBackupToRegion made (see cloudhsm.py).
    calls: list[dict[str, Any]] = field(default_factory=list)
    # API requests served, as {"<service>:<Operation>": {"<region>": count}}.
    requests: dict[str, dict[str, int]] = field(default_factory=dict)
    # Every DescribeBackups: region, filter sizes, whether it asked for a next page.
    describe_backups: list[dict[str, Any]] = field(default_factory=list)
    # Emulated seconds skipped by compressed Wait states, per (source backup id, destination
    # region): the clock of that copy runs ahead of real time by this much.
    skipped: dict[tuple[str, str], float] = field(default_factory=dict)
    # AWS RAM's resource shares, by ARN (see ram.py).
    shares: dict[str, Any] = field(default_factory=dict)

    def copy_clock(self, source_backup: str | None, region: str) -> float:
        """Now, on the clock of the copies of `source_backup` in `region` (see timeScale)."""
        return time.time() + self.skipped.get((source_backup or "", region), 0.0)

    def configure(self, changes: dict[str, Any]) -> list[str]:
        """Applies switch changes; returns the unknown switch names (and then changes nothing)."""
        unknown = sorted(set(changes) - set(self.config))
        if unknown:
            return unknown
        with self.lock:
            self.config.update(changes)
            if "rateLimits" in changes:
                self.buckets.clear()
            if "faultSeed" in changes:
                self.fault_random.seed(self.config["faultSeed"])
        return []
