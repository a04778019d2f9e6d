"""COMPARISON ONLY, not shipped: a minimal Python boto3 handler doing what check-copy does for
one poll of the tracking loop (list the backup's copies in the destination, decide what the loop
does next), with the same initialisation (a client per destination region, built once at
import). `make bench` measures it against the Rust binary."""

import datetime
import os
import time

import boto3

DESTINATIONS = [r for r in os.environ.get("DESTINATION_REGIONS", "").split(",") if r]
HSM = {region: boto3.client("cloudhsmv2", region_name=region) for region in DESTINATIONS}


def epoch(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def lambda_handler(event, context):
    job, loop, copy, policy = event["job"], event["loop"], event["copy"], event["policy"]
    region = job["destinationRegion"]
    client = HSM.get(region) or boto3.client("cloudhsmv2", region_name=region)
    pages = client.get_paginator("describe_backups").paginate(Filters={"sourceBackupIds": [job["sourceBackupId"]]})
    copies = [c for page in pages for c in page["Backups"]]
    now = time.time()
    elapsed = now - epoch(loop["startedAt"])
    if any(c["BackupState"] == "READY" for c in copies):
        decision = "SUCCEED"
    elif elapsed >= int(policy["deadlineSeconds"]):
        decision = "FAIL"
    elif any(c["BackupState"] == "CREATE_IN_PROGRESS" for c in copies) or now - epoch(copy["requestedAt"]) < int(policy["visibilityGraceSeconds"]):
        decision = "WAIT"
    elif loop["attempt"] < int(policy["maxCopyAttempts"]):
        decision = "RECOPY"
    else:
        decision = "FAIL"
    previous = loop["waitSeconds"]
    wait = int(policy["initialWaitSeconds"]) if previous == 0 else previous * int(policy["backoffPercent"]) // 100
    wait = min(wait, int(policy["maxWaitSeconds"]))
    return {
        "job": job,
        "loop": {**loop, "checks": loop["checks"] + 1, "waitSeconds": wait},
        "copy": copy,
        "check": {"next": decision, "elapsedSeconds": int(elapsed)},
    }
