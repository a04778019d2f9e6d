"""COMPARISON ONLY, not shipped: a minimal Python boto3 handler doing what start-copy does for a
"CloudHSM Backup Created" event, with the same initialisation (clients for the source region,
each destination region and Step Functions, built once at import). `make bench` measures it
against the Rust binary."""

import json
import os

import boto3

SOURCE = os.environ["AWS_REGION"]
DESTINATIONS = os.environ["DESTINATION_REGIONS"].split(",")
STATE_MACHINE_ARN = os.environ["STATE_MACHINE_ARN"]

HSM = {region: boto3.client("cloudhsmv2", region_name=region) for region in [SOURCE, *DESTINATIONS]}
SFN = boto3.client("stepfunctions", region_name=SOURCE)


def lambda_handler(event, context):
    backup_id = event["detail"]["backupId"]
    backups = HSM[SOURCE].describe_backups(Filters={"backupIds": [backup_id]})["Backups"]
    started = []
    for backup in backups:
        if backup["BackupState"] != "READY" or backup.get("SourceBackup"):
            continue
        for region in DESTINATIONS:
            pages = HSM[region].get_paginator("describe_backups").paginate(Filters={"sourceBackupIds": [backup_id]})
            copies = [c for page in pages for c in page["Backups"]]
            if any(c["BackupState"] in ("CREATE_IN_PROGRESS", "READY") for c in copies):
                continue
            job = {
                "sourceBackupId": backup_id,
                "sourceClusterId": backup.get("ClusterId"),
                "sourceRegion": SOURCE,
                "destinationRegion": region,
                "priorCopies": len(copies),
            }
            name = f"{backup_id}-to-{region}-{len(copies)}"
            out = SFN.start_execution(stateMachineArn=STATE_MACHINE_ARN, name=name, input=json.dumps(job, separators=(",", ":")))
            started.append(out["executionArn"])
    return {"started": started}
