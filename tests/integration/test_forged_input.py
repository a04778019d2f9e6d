"""Forged input against the real functions: a copy to a region nobody configured, a job for a
cluster the operator excluded, an event from another account or region. Each is refused or
ignored before any AWS call."""

from __future__ import annotations

import json

from pathlib import Path

from stack import ACCOUNT, SOURCE_REGION, backup_created_event, check_request, copy_request

ROOT = Path(__file__).resolve().parents[2]


def cloudtrail_create_hsm(cluster_id: str, account: str, region: str) -> dict:
    with open(ROOT / "events" / "cloudtrail-create-hsm.json") as f:
        event = json.load(f)
    event["account"], event["region"] = account, region
    event["detail"]["requestParameters"]["clusterId"] = cluster_id
    return event


def test_the_copy_step_sends_nothing_outside_the_configured_destinations(stack):
    cluster_id, backup_id = stack.create_cluster()
    stack.restart_functions(EXCLUDE_CLUSTERS="cluster-excludedclus")
    stack.control("POST", "requests")
    forged = [
        # Not configured, across the GovCloud boundary (seen requested before the scope check).
        copy_request(backup_id, cluster_id, "us-gov-west-1"),
        # A real region of the partition that is simply not a destination.
        copy_request(backup_id, cluster_id, "eu-central-1"),
        # Another source region.
        copy_request(backup_id, cluster_id, "us-west-2", source="eu-west-1"),
        # A cluster the operator excluded.
        copy_request(backup_id, "cluster-excludedclus", "us-west-2"),
    ]
    for request in forged:
        payload, error = stack.invoke("copy-step", request)
        assert error is not None and payload["errorType"] == "InvalidInput", payload
        payload, error = stack.invoke("check-copy", check_request(request))
        assert error is not None and payload["errorType"] == "InvalidInput", payload
    assert stack.control("GET", "requests")["counts"] == {}
    assert stack.control("GET", "calls")["copyBackupToRegion"] == []


def test_events_from_another_account_or_region_start_nothing(stack):
    cluster_id, backup_id = stack.create_cluster()
    stack.control("POST", "requests")
    foreign = [
        cloudtrail_create_hsm(cluster_id, "999999999999", SOURCE_REGION),
        cloudtrail_create_hsm(cluster_id, ACCOUNT, "eu-central-1"),
        {**backup_created_event(backup_id, cluster_id), "account": "999999999999"},
        {**backup_created_event(backup_id, cluster_id), "region": "us-west-2"},
    ]
    for event in foreign:
        summary, error = stack.invoke("start-copy", event)
        assert error is None, summary
        assert summary["ignored"].startswith("event from "), summary
        assert summary["startedCount"] == 0
    assert stack.control("GET", "requests")["counts"] == {}
    assert stack.executions() == []
