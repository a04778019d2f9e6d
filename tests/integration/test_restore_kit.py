"""The restore kit: each sweep keeps, in every destination region's Parameter Store, what a restore
of each source cluster there needs (the newest READY copy, its HsmType and Mode, the cluster's
certificates, where the customer CA is kept), and rewrites it only when it changes."""

from __future__ import annotations


from stack import SOURCE_REGION, schedule_event, wait_until

REGIONS = ("us-west-2", "eu-west-1")


def kit(stack, region: str, cluster_id: str) -> dict | None:
    return stack.kit(region, cluster_id)


def ready_copy(stack, backup_id: str, region: str) -> dict:
    return wait_until(f"a READY copy of {backup_id} in {region}",
                      lambda: next((c for c in stack.copies(backup_id, region) if c["BackupState"] == "READY"), None), timeout=120)


def sweep(stack, n: int) -> dict:
    summary, error = stack.invoke("start-copy", schedule_event(f"kit-sweep-{n}"))
    assert error is None, (error, summary)
    return summary


def test_each_destination_keeps_a_current_restore_kit(stack):
    cluster_id, first = stack.create_cluster()
    sweep(stack, 1)
    copies = {r: ready_copy(stack, first, r) for r in REGIONS}
    written = sweep(stack, 2)
    assert written["restoreKitCounts"] == {"WRITTEN": 2}, written
    cluster = stack.hsm().describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"][0]
    for region in REGIONS:
        k = kit(stack, region, cluster_id)
        assert k is not None, f"no kit in {region}"
        copy = copies[region]
        # What CreateCluster needs, as DescribeBackups reports it in the kit's own region.
        assert (k["backupId"], k["sourceBackupId"], k["hsmType"], k["mode"]) == (copy["BackupId"], first, copy["HsmType"], copy["Mode"])
        assert (k["sourceClusterId"], k["sourceRegion"], k["destinationRegion"]) == (cluster_id, SOURCE_REGION, region)
        assert k["sourceClusterMode"] == cluster["Mode"] and k["mode"] == cluster["Mode"]
        assert k["clusterCertificate"] == cluster["Certificates"]["ClusterCertificate"]
        assert k["clusterCertificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert all(r["modeMatches"] is True for r in written["restoreKits"]), written["restoreKits"]

    # Nothing changed: nothing rewritten (the parameters keep their version).
    versions = {r: stack.client("ssm", r).get_parameter(Name=written["restoreKits"][0]["parameter"])["Parameter"]["Version"] for r in REGIONS}
    assert sweep(stack, 3)["restoreKitCounts"] == {"CURRENT": 2}
    assert versions == {r: stack.client("ssm", r).get_parameter(Name=written["restoreKits"][0]["parameter"])["Parameter"]["Version"] for r in REGIONS}

    # A newer backup, once copied, moves each kit on to its copy.
    newer = stack.make_backup(cluster_id)
    sweep(stack, 4)
    newer_copies = {r: ready_copy(stack, newer, r) for r in REGIONS}
    assert sweep(stack, 5)["restoreKitCounts"] == {"WRITTEN": 2}
    for region in REGIONS:
        assert kit(stack, region, cluster_id)["backupId"] == newer_copies[region]["BackupId"]
    stack.wait_for_executions(4)


def test_the_customer_ca_location_is_in_the_kit(stack):
    stack.restart_functions(CUSTOMER_CA_CERTIFICATE_LOCATION="ssm:/pki/customer-ca")
    cluster_id, backup = stack.create_cluster()
    sweep(stack, 1)
    for region in REGIONS:
        ready_copy(stack, backup, region)
    sweep(stack, 2)
    assert {kit(stack, r, cluster_id)["customerCaCertificate"] for r in REGIONS} == {"ssm:/pki/customer-ca"}
    stack.wait_for_executions(2)


def test_a_kit_that_cannot_be_stored_is_announced_and_written_by_a_later_sweep(stack):
    cluster_id, backup = stack.create_cluster()
    sweep(stack, 1)
    for region in REGIONS:
        ready_copy(stack, backup, region)
    stack.wait_for_executions(2)
    stack.announcements()
    stack.control("POST", "config", {"faults": [{"service": "ssm", "operation": "PutParameter", "kind": "5xx", "rate": 1.0}]})
    # The copies are fine, so the run is too: the kits are reported, announced and counted.
    summary = sweep(stack, 9)
    assert summary["restoreKitCounts"] == {"FAILED": 2} and summary["failedCount"] == 0, summary
    events = [e for e in stack.announcements(wait=2) if e["detail-type"] == "CloudHSM DR Readiness Failed"]
    assert sorted(e["detail"]["destinationRegion"] for e in events) == sorted(REGIONS), events
    assert all(e["detail"]["problem"] == "KIT_NOT_STORED" and e["detail"]["clusterId"] == cluster_id for e in events)
    assert all(kit(stack, r, cluster_id) is None for r in REGIONS)
    stack.control("POST", "config", {"faults": []})
    assert sweep(stack, 2)["restoreKitCounts"] == {"WRITTEN": 2}
