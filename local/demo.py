"""`make demo`: the whole flow against the local AWS stack, told step by step.

A cluster's backup in us-east-1 is announced with the custom "CloudHSM Backup Created" event;
start-copy (the real binary, served by cargo lambda watch) starts one tracking execution per
destination; the real state machine, running in moto, requests each copy and loops on the real
check-copy until the copy is READY in us-west-2 and eu-west-1, and shares it with the recovery
account through AWS RAM before announcing it (`DR_ACCOUNT=0` leaves sharing off); the recovery
account then lists it as shared. Then a restore drill restores the copy in us-west-2 as a
cluster (in the recovery account, from the shared ARN, when sharing is on), checks it, deletes
it, and `dr-status` prints the posture, with what the recovery account sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from stack import (DESTINATION_REGIONS, DRILL_SUBNETS, RECOVERY_ACCOUNT, SOURCE_REGION, Stack, backup_created_event, schedule_event,
                   wait_until)

ROOT = Path(__file__).resolve().parent.parent


def dr_status(stack: Stack) -> subprocess.CompletedProcess:
    """The posture command (built by `make build`), as an operator runs it against the stack."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, "AWS_ENDPOINT_URL": stack.endpoint,
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": SOURCE_REGION}
    return subprocess.run([str(ROOT / "target" / "debug" / "dr-status"), "--destinations", ",".join(DESTINATION_REGIONS)],
                          env=env, capture_output=True, text=True, timeout=120)
COPY_DELAY_SECONDS = 6.0
DRILL_REGION = DRILL_SUBNETS.split("=", 1)[0]
TIMEOUT_SECONDS = 180
# Share the copies with a second (recovery) account, as RecoveryAccounts does.
SHARING = os.environ.get("DR_ACCOUNT", "1") != "0"
STEPS = 9 if SHARING else 8
_step = iter(range(1, STEPS + 1))


def step(text: str) -> None:
    say(f"[{next(_step)}/{STEPS}] {text}")


def say(text: str = "") -> None:
    print(text, flush=True)


def main() -> int:
    started = time.monotonic()
    say("cloudhsm-backup-copy demo: the real functions and state machine on a local AWS stack")
    say("(moto, extended with CopyBackupToRegion; cargo lambda watch; no AWS account, no Docker)")
    say()
    step("Starting the local stack ...")
    # With sharing on: dr-account.yaml's roles in the recovery account, for the sweep's check of
    # what it sees and for the drill, which runs there.
    recovery = {"recovery_accounts": RECOVERY_ACCOUNT, "recovery_role": "cloudhsm-backup-copy-recovery-verifier",
                "drill_account": RECOVERY_ACCOUNT} if SHARING else {}
    with Stack.started(ROOT, copy_delay=COPY_DELAY_SECONDS, **recovery) as stack:
        ports = ", ".join(f"{f} :{p}" for f, p in stack.lambda_ports.items())
        say(f"      moto on 127.0.0.1:{stack.moto_port}; functions {ports}; logs in {stack.log_dir}")
        say("      each function runs as the role the template gives it, with IAM enforced")

        step(f"Creating a CloudHSM cluster in {SOURCE_REGION} ...")
        cluster_id, backup_id = stack.create_cluster(tags=[{"Key": "team", "Value": "payments"}])
        say(f"      cluster {cluster_id}; its backup {backup_id} is READY")

        step('Sending the "CloudHSM Backup Created" event to start-copy ...')
        summary, error = stack.invoke("start-copy", backup_created_event(backup_id, cluster_id))
        if error:
            say(f"      start-copy failed: {summary}")
            return 1
        for item in summary["started"]:
            say(f"      started {item['executionName']}")

        step(f"Following each copy (copies take {COPY_DELAY_SECONDS:.0f}s here) ...")
        last: dict[str, str] = {}

        def progress() -> bool:
            for region in DESTINATION_REGIONS:
                copies = stack.copies(backup_id, region)
                state = ",".join(f"{c['BackupId']} {c['BackupState']}" for c in copies) or "not listed yet"
                if last.get(region) != state:
                    last[region] = state
                    say(f"      {time.monotonic() - started:5.1f}s  {region:<10} {state}")
            runs = stack.executions()
            return len(runs) == len(DESTINATION_REGIONS) and all(r["status"] != "RUNNING" for r in runs)

        wait_until("the copies to finish", progress, timeout=TIMEOUT_SECONDS, interval=0.5)

        step("Outcome, as announced on EventBridge:")
        events = stack.announcements(wait=3)
        ok = True
        say(f"      {'region':<10} {'copy':<20} {'event':<31} {'attempts':>8} {'checks':>6} {'seconds':>7}  shared with")
        for event in sorted(events, key=lambda e: e["detail"]["destinationRegion"]):
            d = event["detail"]
            ok &= event["detail-type"] == "CloudHSM Backup Copy Succeeded"
            ok &= d.get("sharedWith") == ([RECOVERY_ACCOUNT] if SHARING else [])
            say(
                f"      {d['destinationRegion']:<10} {str(d.get('destinationBackupId')):<20} {event['detail-type']:<31}"
                f" {d['attempts']:>8} {d['checks']:>6} {d.get('durationSeconds', '-'):>7}  {', '.join(d.get('sharedWith', [])) or '-'}"
            )
        runs = stack.executions()
        ok &= len(events) == len(DESTINATION_REGIONS) and all(r["status"] == "SUCCEEDED" for r in runs)
        for region in DESTINATION_REGIONS:
            states = [c["BackupState"] for c in stack.copies(backup_id, region)]
            ok &= states == ["READY"]

        if SHARING:
            step(f"The recovery account {RECOVERY_ACCOUNT} lists the copies shared with it (DescribeBackups Shared=true):")
            for event in sorted(events, key=lambda e: e["detail"]["destinationRegion"]):
                d = event["detail"]
                seen = stack.hsm(d["destinationRegion"], RECOVERY_ACCOUNT).describe_backups(Shared=True)["Backups"]
                arn = next((b["BackupArn"] for b in seen if b["BackupId"] == d.get("destinationBackupId")), None)
                say(f"      {d['destinationRegion']:<10} {arn or 'NOT SHARED'}")
                ok &= arn is not None
            say("      (it restores a cluster from that ARN; see the README's \"Sharing with a recovery account\")")

        step("The hourly sweep: nothing left to copy; freshness of each DR region:")
        sweep, error = stack.invoke("start-copy", schedule_event())
        if error:
            say(f"      the sweep failed: {sweep}")
            return 1
        say(f"      examined {sweep['examined']} backup(s), started {len(sweep['started'])}, skipped {sweep['skippedCounts']}")
        for figure in sweep.get("freshness", []):
            say(f"      {figure['clusterId']} -> {figure['destinationRegion']:<10} newest READY copy "
                f"{figure['newestCopyId']} is {figure['newestCopyAgeHours']:.2f} h old")
        ok &= sweep["started"] == [] and len(sweep.get("freshness", [])) == len(DESTINATION_REGIONS)
        kits = sweep.get("restoreKitCounts", {})
        say(f"      restore kits in the DR regions: {kits}")
        ok &= sum(kits.values()) == len(DESTINATION_REGIONS) and "FAILED" not in kits

        where = f" in the recovery account {RECOVERY_ACCOUNT}, from the shared ARN" if SHARING else ""
        step(f"A restore drill: a cluster restored from the newest copy in {DRILL_REGION}{where}, checked, deleted ...")
        plan, error = stack.invoke("restore-drill", {"action": "plan"})
        if error:
            say(f"      the drill could not be planned: {plan}")
            return 1
        say(f"      started {', '.join(plan['started'])}")
        (drill,) = stack.wait_for_drills(1, timeout=TIMEOUT_SECONDS)
        announced = [e for e in stack.announcements(wait=3) if e["detail-type"].startswith("CloudHSM Restore Drill")]
        for event in announced:
            d = event["detail"]
            say(f"      {event['detail-type']}: drill cluster {d['drillClusterId']} (account {d['drillAccount']}) from "
                f"{d['backupId']} in {d['durationSeconds']} s, {d['checks']} check(s), deleted: {d['cleanedUp']}")
        ok &= drill["status"] == "SUCCEEDED" and [e["detail"]["cleanedUp"] for e in announced] == [True]

        step("The DR posture, as `dr-status` prints it on a bad day:")
        status = dr_status(stack)
        for line in status.stdout.splitlines():
            say(f"      {line}")
        ok &= status.returncode == 0 and status.stdout.count("current") == len(DESTINATION_REGIONS)
        ok &= "SUCCEEDED" in status.stdout
        ok &= not SHARING or status.stdout.count(f"seen by {RECOVERY_ACCOUNT}") == len(DESTINATION_REGIONS)
        say()
        if ok:
            say(f"Done in {time.monotonic() - started:.0f}s: backup {backup_id} has exactly one READY copy in each of "
                f"{', '.join(DESTINATION_REGIONS)}{', shared with the recovery account' if SHARING else ''}, and the copy in "
                f"{DRILL_REGION} restored in a drill.")
            return 0
        say("The demo did not end as expected; see the logs above.")
        return 1


if __name__ == "__main__":
    sys.exit(main())
