"""`dr-status` on a seeded stack: one row per cluster and destination with the newest READY copy,
its age, HsmType/Mode and kit state, as a table and as JSON, reading with the caller's
credentials and changing nothing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from stack import SOURCE_REGION, schedule_event, wait_until

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "target" / "debug" / "dr-status"
REGIONS = ("us-west-2", "eu-west-1")


def dr_status(stack, *args: str) -> subprocess.CompletedProcess:
    # As an operator runs it: the account's own credentials, not a function's role.
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, "AWS_ENDPOINT_URL": stack.endpoint,
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": SOURCE_REGION}
    return subprocess.run([str(BINARY), *args], env=env, capture_output=True, text=True, timeout=120)


def test_the_posture_table_and_json_on_a_seeded_stack(stack):
    assert BINARY.exists(), "make build builds dr-status"
    copied, first = stack.create_cluster()
    lonely, its_backup = stack.create_cluster()
    assert stack.invoke("start-copy", schedule_event("status-1"))[1] is None
    for backup in (first, its_backup):
        for region in REGIONS:
            wait_until(f"a READY copy of {backup} in {region}",
                       lambda b=backup, r=region: any(c["BackupState"] == "READY" for c in stack.copies(b, r)), timeout=120)
    # The second sweep writes the kits; the lonely cluster's copies are then deleted by hand.
    assert stack.invoke("start-copy", schedule_event("status-2"))[1] is None
    stack.wait_for_executions(4)
    for region in REGIONS:
        for b in stack.hsm(region).describe_backups()["Backups"]:
            if b.get("SourceCluster") == lonely:
                stack.hsm(region).delete_backup(BackupId=b["BackupId"])
    before = stack.control("GET", "requests")["counts"]

    table = dr_status(stack, "--destinations", ",".join(REGIONS))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.strip().splitlines()
    assert lines[0].split()[:2] == ["CLUSTER", "REGION"] and len(lines) == 1 + 2 * len(REGIONS), table.stdout
    rows = {tuple(line.split()[:2]): line for line in lines[1:]}
    for region in REGIONS:
        newest = next(c for c in stack.copies(first, region) if c["BackupState"] == "READY")
        line = rows[(copied, region)]
        assert newest["BackupId"] in line and "hsm2m.medium" in line and "FIPS" in line and "current" in line, line
        assert "NONE" in rows[(lonely, region)] and "stale" in rows[(lonely, region)], rows[(lonely, region)]

    as_json = dr_status(stack, "--destinations", ",".join(REGIONS), "--json")
    assert as_json.returncode == 0, as_json.stderr
    parsed = json.loads(as_json.stdout)
    assert len(parsed) == 4
    mine = next(r for r in parsed if r["clusterId"] == copied and r["destinationRegion"] == "us-west-2")
    assert mine["kit"] == {"state": "CURRENT"} and mine["mode"] == mine["clusterMode"] == "FIPS"
    assert 0 <= mine["ageHours"] < 1 and mine["executionsRunning"] == 0 and mine["copiesInProgress"] == 0
    gone = next(r for r in parsed if r["clusterId"] == lonely and r["destinationRegion"] == "us-west-2")
    assert gone["newestCopyId"] is None and gone["kit"]["state"] == "STALE", gone

    # It only read: no call but Describe*/List*/Get*.
    after = stack.control("GET", "requests")["counts"]
    made = {op for op in after if after[op] != before.get(op)}
    assert made and all(op.split(":", 1)[1].startswith(("Describe", "List", "Get")) for op in made), made


def test_what_can_be_read_is_shown_and_what_cannot_is_said(stack):
    cluster_id, backup = stack.create_cluster()
    assert stack.invoke("start-copy", schedule_event("status-partial"))[1] is None
    wait_until("a READY copy", lambda: any(c["BackupState"] == "READY" for c in stack.copies(backup, "us-west-2")), timeout=120)
    stack.wait_for_executions(2)
    # The source region cannot be described (a bad day): the DR region's copies still show.
    stack.control("POST", "config", {"faults": [{"service": "cloudhsm", "operation": "DescribeClusters", "kind": "5xx", "rate": 1.0}]})
    result = dr_status(stack, "--destinations", "us-west-2")
    stack.control("POST", "config", {"faults": []})
    assert result.returncode == 1 and "note: cannot describe the clusters in us-east-1" in result.stderr, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith(cluster_id))
    newest = next(c for c in stack.copies(backup, "us-west-2") if c["BackupState"] == "READY")
    assert newest["BackupId"] in row, result.stdout


def test_a_bad_command_line_prints_the_usage(stack):
    result = dr_status(stack, "--destinations", "mars-1")
    assert result.returncode == 2 and "usage: dr-status" in result.stderr, result.stderr
