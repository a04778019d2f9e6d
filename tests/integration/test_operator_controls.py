"""Operator controls on the local stack: cluster selection, the tags on copies, bad settings."""

import json

import pytest

from stack import DESTINATION_REGIONS, TAG_PREFIX, backup_created_event, schedule_event

REGIONS = list(DESTINATION_REGIONS)
DR = [{"Key": "dr-copy", "Value": "true"}]


def tags_of(backup):
    return {t["Key"]: t["Value"] for t in backup.get("TagList", [])}


def test_only_selected_clusters_are_copied_by_sweeps_and_events(stack):
    _, chosen = stack.create_cluster(tags=DR)
    _, untagged = stack.create_cluster()
    excluded_cluster, excluded = stack.create_cluster(tags=DR)
    stack.restart_functions(CLUSTER_TAG_SELECTOR="dr-copy=true", EXCLUDE_CLUSTERS=f"{excluded_cluster},cluster-nosuchcluste")

    sweep, error = stack.invoke("start-copy", schedule_event())
    event, _ = stack.invoke("start-copy", backup_created_event(excluded, excluded_cluster))

    assert error is None, sweep
    assert {s["sourceBackupId"] for s in sweep["started"]} == {chosen}
    assert sweep["skippedCounts"] == {"CLUSTER_NOT_SELECTED": 2}
    assert sweep["unknownClusterIds"] == ["cluster-nosuchcluste"]
    assert event["started"] == [] and event["skipped"][0]["detail"] == "in EXCLUDE_CLUSTERS"
    stack.wait_for_executions(2)
    for backup in (untagged, excluded):
        assert all(stack.copies(backup, r) == [] for r in REGIONS)
    assert all(len(stack.copies(chosen, r)) == 1 for r in REGIONS)


def test_copies_carry_source_configured_and_provenance_tags(stack):
    stack.restart_functions(COPY_TAGS="cost-center=dr,purpose=disaster-recovery")
    cluster_id, backup_id = stack.create_cluster(tags=[{"Key": "team", "Value": "payments"}])

    stack.invoke("start-copy", backup_created_event(backup_id, cluster_id))

    runs = stack.wait_for_executions(2)
    assert all(r["status"] == "SUCCEEDED" for r in runs)
    for region in REGIONS:
        (copy,) = stack.copies(backup_id, region)
        assert tags_of(copy) == {
            "team": "payments",
            "cost-center": "dr",
            "purpose": "disaster-recovery",
            f"{TAG_PREFIX}:source-region": "us-east-1",
            f"{TAG_PREFIX}:source-backup-id": backup_id,
            f"{TAG_PREFIX}:source-cluster-id": cluster_id,
            f"{TAG_PREFIX}:attempt": f"{backup_id}-to-{region}-0/1",
        }


def test_a_bad_setting_stops_the_function_at_start_naming_the_setting(stack):
    stack.restart_functions(DESTINATION_REGIONS="us-west-2,us-west-2")
    stack.control("POST", "requests")

    # The functions exit during init, so the local emulator never answers these invokes.
    with pytest.raises(OSError):
        stack.invoke("start-copy", schedule_event(), timeout=15)
    with open(stack.root / "events" / "check-copy.json") as f:
        check = json.load(f)
    with pytest.raises(OSError):
        stack.invoke("check-copy", check, timeout=15)
    with pytest.raises(OSError):
        stack.invoke("copy-step", {"action": "copy", "job": check["job"], "attempt": 1}, timeout=15)

    # Each function's own start is followed by the error naming the setting.
    for function in ("start-copy", "copy-step", "check-copy"):
        log = stack.function_log(function)
        spawned = log.rindex(f'AWS_LAMBDA_FUNCTION_NAME="{function}"')
        assert 'setting DESTINATION_REGIONS="us-west-2,us-west-2" is invalid: us-west-2 is listed twice' in log[spawned:spawned + 4000], function
    assert stack.control("GET", "requests")["counts"] == {}
