"""The whole flow on the local stack: real binaries (cargo lambda watch), the real state machine
(moto's executor), CloudHSM emulated by moto plus our extension."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

from stack import DESTINATION_REGIONS, backup_created_event, schedule_event

REGIONS = list(DESTINATION_REGIONS)


def states(copies):
    return sorted(c["BackupState"] for c in copies)


def report(what, **counts):
    print(f"{what}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


def test_backup_created_event_copies_to_both_regions_and_announces_success(stack):
    cluster_id, backup_id = stack.create_cluster()

    summary, error = stack.invoke("start-copy", backup_created_event(backup_id, cluster_id))

    assert error is None, summary
    assert sorted(s["destinationRegion"] for s in summary["started"]) == sorted(REGIONS)
    runs = stack.wait_for_executions(2)
    assert [r["status"] for r in runs] == ["SUCCEEDED", "SUCCEEDED"]
    for region in REGIONS:
        copies = stack.copies(backup_id, region)
        assert states(copies) == ["READY"], region
        assert copies[0]["SourceRegion"] == "us-east-1" and copies[0]["SourceCluster"] == cluster_id
    events = stack.announcements(wait=3)
    assert sorted(e["detail"]["destinationRegion"] for e in events) == sorted(REGIONS)
    for event in events:
        assert event["detail-type"] == "CloudHSM Backup Copy Succeeded"
        detail = event["detail"]
        assert detail["sourceBackupId"] == backup_id and detail["sourceClusterId"] == cluster_id
        assert detail["destinationBackupId"] == stack.copies(backup_id, detail["destinationRegion"])[0]["BackupId"]
        assert detail["attempts"] == 1 and detail["durationSeconds"] >= 0
        assert detail["executionArn"].endswith(f"{backup_id}-to-{detail['destinationRegion']}-0")


def test_the_same_event_twenty_times_also_concurrently_makes_one_copy_per_region(stack):
    cluster_id, backup_id = stack.create_cluster()
    event = backup_created_event(backup_id, cluster_id)

    results = [stack.invoke("start-copy", event) for _ in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        results += list(pool.map(lambda _: stack.invoke("start-copy", event), range(10)))

    assert all(error is None for _, error in results), [r for r in results if r[1]]
    stack.wait_for_executions(2)
    time.sleep(1)  # nothing else may start late
    runs = stack.executions()
    copy_calls = stack.control("GET", "calls")["copyBackupToRegion"]
    report("20 deliveries", executions=len(runs), copy_calls=len(copy_calls))
    assert len(runs) == 2 and all(r["status"] == "SUCCEEDED" for r in runs)
    assert sorted(c["destinationRegion"] for c in copy_calls) == sorted(REGIONS)
    for region in REGIONS:
        assert states(stack.copies(backup_id, region)) == ["READY"], region
    # Later deliveries see the copies and skip.
    summary, _ = stack.invoke("start-copy", event)
    assert summary["started"] == [] and summary["skippedCounts"] == {"ALREADY_COPIED": 2}


def test_sweep_copies_backups_that_no_event_announced(stack):
    backups = [stack.create_cluster()[1] for _ in range(3)]

    summary, error = stack.invoke("start-copy", schedule_event())

    assert error is None, summary
    assert summary["examined"] == 3 and len(summary["started"]) == 6
    runs = stack.wait_for_executions(6)
    assert all(r["status"] == "SUCCEEDED" for r in runs)
    for backup_id in backups:
        for region in REGIONS:
            assert states(stack.copies(backup_id, region)) == ["READY"]


def test_sweep_pages_through_more_than_fifty_backups(make_stack):
    stack = make_stack(copy_delay=0.5)
    backups = {stack.create_cluster()[1] for _ in range(55)}
    stack.control("POST", "requests")

    summary, error = stack.invoke("start-copy", schedule_event(), timeout=600)

    assert error is None, summary
    assert summary["examined"] == 55
    # The summary lists the first 100 starts and counts them all.
    assert summary["startedCount"] == 110 and len(summary["started"]) == 100
    # The sweep's source listing filters on state only (2 pages of at most 50); the copy steps,
    # already running, look their sources up by id.
    pages = sweep_pages(stack)
    assert pages["us-east-1"] == [False, True]
    runs = stack.wait_for_executions(110, timeout=600)
    assert all(r["status"] == "SUCCEEDED" for r in runs)
    assert {r["name"].split("-to-")[0] for r in runs} == backups

    # A second sweep looks up each destination's copies of the 55 backups by source id, 50 ids
    # per call (an answer that does not depend on the listing's order), finds every copy and
    # starts nothing.
    stack.control("POST", "requests")
    again, _ = stack.invoke("start-copy", schedule_event("sweep-2"), timeout=600)
    pages = sweep_pages(stack)
    describes = stack.control("GET", "requests")["describeBackups"]
    lookups = {r: sorted(d["filters"].get("sourceBackupIds", 0) for d in describes if d["region"] == r) for r in REGIONS}
    report("second sweep of 55", started=len(again["started"]), source_pages=pages, lookups=lookups)
    assert pages == {"us-east-1": [False, True]}
    assert lookups == {r: [5, 50] for r in REGIONS}
    assert again["started"] == [] and again["skippedCounts"] == {"ALREADY_COPIED": 110}


def sweep_pages(stack):
    """DescribeBackups pages of the sweep's own listings, per region (True: a follow-up page)."""
    describes = stack.control("GET", "requests")["describeBackups"]
    own = [d for d in describes if d["filters"] in ({"states": 1}, {})]
    return {r: [d["nextToken"] for d in own if d["region"] == r] for r in ("us-east-1", *REGIONS) if any(d["region"] == r for d in own)}


def test_a_deleted_copy_is_copied_again_and_reaches_ready(stack):
    stack.control("POST", "config", {"failNextCopies": 2})  # the first copy to each region fails
    cluster_id, backup_id = stack.create_cluster()

    stack.invoke("start-copy", backup_created_event(backup_id, cluster_id))

    runs = stack.wait_for_executions(2)
    assert all(r["status"] == "SUCCEEDED" for r in runs)
    for region in REGIONS:
        assert states(stack.copies(backup_id, region)) == ["DELETED", "READY"], region
    events = stack.announcements(wait=3)
    calls = stack.control("GET", "calls")["copyBackupToRegion"]
    report("deleted once", copy_calls=len(calls), ended_deleted=sum(c["endsDeleted"] for c in calls), succeeded=len(events))
    assert [e["detail-type"] for e in events] == ["CloudHSM Backup Copy Succeeded"] * 2
    assert all(e["detail"]["attempts"] == 2 for e in events)
    assert len(calls) == 4


def test_a_copy_that_always_ends_deleted_fails_loudly_after_the_attempt_budget(stack):
    stack.control("POST", "config", {"failAllCopies": True})
    cluster_id, backup_id = stack.create_cluster()

    stack.invoke("start-copy", backup_created_event(backup_id, cluster_id))

    runs = stack.wait_for_executions(2)
    assert all(r["status"] == "FAILED" for r in runs)
    sfn = stack.client("stepfunctions")
    for run in runs:
        assert sfn.describe_execution(executionArn=run["executionArn"])["error"] == "CopyFailed"
    for region in REGIONS:
        assert states(stack.copies(backup_id, region)) == ["DELETED"] * 3, region  # MaxCopyAttempts=3
    events = stack.announcements(wait=3)
    report("always deleted", copy_calls=len(stack.control("GET", "calls")["copyBackupToRegion"]), failed_executions=len(runs), failure_events=len(events))
    assert [e["detail-type"] for e in events] == ["CloudHSM Backup Copy Failed"] * 2
    for e in events:
        assert e["detail"]["failure"]["reason"] == "COPY_ATTEMPTS_EXHAUSTED"
        assert e["detail"]["attempts"] == 3 and e["detail"]["sourceBackupId"] == backup_id


def test_cloudtrail_event_naming_a_cluster_copies_its_backups(stack):
    cluster_id, backup_id = stack.create_cluster()
    with open(stack.root / "events" / "cloudtrail-create-hsm.json") as f:
        event = json.loads(f.read().replace("cluster-kzlczlspnho", cluster_id))

    summary, error = stack.invoke("start-copy", event)

    assert error is None, summary
    assert summary["origin"] == "CloudTrail CreateHsm"
    assert {s["sourceBackupId"] for s in summary["started"]} == {backup_id}
    runs = stack.wait_for_executions(2)
    assert all(r["status"] == "SUCCEEDED" for r in runs)


def test_copies_and_missing_backups_are_skipped_with_reasons(stack):
    _, backup_id = stack.create_cluster()
    stack.invoke("start-copy", backup_created_event(backup_id))
    stack.wait_for_executions(2)
    copy_id = stack.copies(backup_id, "us-west-2")[0]["BackupId"]

    missing, _ = stack.invoke("start-copy", backup_created_event("backup-abcdefghijk"))
    # Asking to copy a copy (as if it lived in the source region) is refused by planning; here the
    # copy is in us-west-2, so from us-east-1 it is simply not found.
    not_here, _ = stack.invoke("start-copy", backup_created_event(copy_id))

    assert missing["skipped"] == [{"sourceBackupId": "backup-abcdefghijk", "destinationRegion": None, "reason": "NOT_FOUND"}]
    assert not_here["skippedCounts"] == {"NOT_FOUND": 1}
    assert len(stack.executions()) == 2


def test_malformed_events_are_typed_errors_and_make_no_aws_call(stack):
    stack.control("POST", "requests")
    marker = "do-not-log-7f3a9c"
    bad_events = [
        {"hello": "world", "secret": marker},
        {**backup_created_event("backup-" + marker * 2000), "secret": marker},
        backup_created_event("backup-../../x"),
        {**schedule_event(), "source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification"},
        {"action": "copy", "job": {"sourceBackupId": "nope"}, "attempt": 1},
    ]
    for event in bad_events:
        payload, error = stack.invoke("start-copy", event)
        assert error is not None and payload["errorType"] == "InvalidInput", payload
    for function in ("check-copy", "copy-step"):
        payload, error = stack.invoke(function, {"job": {}})
        assert error is not None and payload["errorType"] == "InvalidInput", payload
    # Bodies the runtime cannot parse as JSON (not JSON, nested past the parser's limit, a 5 MB
    # unterminated string) are our own InvalidInput too, with a short message.
    for function in ("start-copy", "copy-step", "check-copy"):
        for body in (b"not json", b"[" * 200 + b"]" * 200, b'"' + marker.encode() * 700_000):
            payload, error = stack.invoke_raw(function, body)
            assert error is not None and payload["errorType"] == "InvalidInput", payload
            assert len(payload["errorMessage"]) < 400, len(payload["errorMessage"])
    assert stack.control("GET", "requests")["counts"] == {}
    assert stack.executions() == []
    # Payloads are not logged, and what is quoted from them is cut short.
    log = "".join(stack.function_log(f) for f in ("start-copy", "copy-step", "check-copy"))
    assert '"secret"' not in log
    assert marker * 5 not in log
