"""The local stack restores clusters from backups as strictly as AWS documents (the drills depend
on it): the backup must be READY with the cluster's HsmType and Mode, the region's cluster quota
holds, the cluster is CREATE_IN_PROGRESS before it is ACTIVE (or DEGRADED), carries the source
cluster's certificate and no backup of its own, and is deleted only once created."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from stack import wait_until

DR = "us-west-2"


@pytest.fixture
def moto(make_stack):
    return make_stack(serve_functions=False)


def ready_copy(stack) -> tuple[dict, dict]:
    """A cluster in the source region and a READY copy of its backup in the DR region."""
    cluster_id, backup_id = stack.create_cluster()
    stack.hsm().copy_backup_to_region(BackupId=backup_id, DestinationRegion=DR)
    copy = wait_until("the copy", lambda: next((c for c in stack.copies(backup_id, DR) if c["BackupState"] == "READY"), None), timeout=60)
    cluster = stack.hsm().describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"][0]
    return cluster, copy


def restore(stack, copy: dict, **overrides) -> dict:
    request = {"SourceBackupId": copy["BackupId"], "HsmType": copy["HsmType"], "Mode": copy["Mode"], "SubnetIds": ["subnet-0a1b2c3d"],
               "TagList": [{"Key": "cloudhsm-backup-copy:drill", "Value": "test"}], **overrides}
    return stack.hsm(DR).create_cluster(**request)["Cluster"]


def state(stack, cluster_id: str) -> str | None:
    found = stack.hsm(DR).describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"]
    return found[0]["State"] if found else None


def test_a_restore_becomes_active_with_the_source_identity_and_is_deleted_once_created(moto):
    source, copy = ready_copy(moto)
    backups_before = len(moto.hsm(DR).describe_backups()["Backups"])
    made = restore(moto, copy)
    assert made["State"] == "CREATE_IN_PROGRESS" and made["SourceBackupId"] == copy["BackupId"], made
    with pytest.raises(ClientError, match="CREATE_IN_PROGRESS"):
        moto.hsm(DR).delete_cluster(ClusterId=made["ClusterId"])
    wait_until("the restore", lambda: state(moto, made["ClusterId"]) == "ACTIVE", timeout=30)
    restored = moto.hsm(DR).describe_clusters(Filters={"clusterIds": [made["ClusterId"]]})["Clusters"][0]
    assert restored["Hsms"] == [] and restored["Mode"] == copy["Mode"] and restored["HsmType"] == copy["HsmType"]
    assert restored["Certificates"]["ClusterCertificate"] == source["Certificates"]["ClusterCertificate"]
    assert len(moto.hsm(DR).describe_backups()["Backups"]) == backups_before, "a cluster without HSMs makes no backup"
    assert moto.hsm(DR).delete_cluster(ClusterId=made["ClusterId"])["Cluster"]["State"] == "DELETE_IN_PROGRESS"
    # Listed as DELETED for a while (AWS does not say how long), then gone.
    wait_until("the deletion", lambda: state(moto, made["ClusterId"]) == "DELETED", timeout=30)
    with pytest.raises(ClientError, match="DELETED"):
        moto.hsm(DR).delete_cluster(ClusterId=made["ClusterId"])
    moto.control("POST", "config", {"deletedClusterListedSeconds": 0.5})
    wait_until("the deleted cluster to go", lambda: state(moto, made["ClusterId"]) is None, timeout=30)


def test_a_restore_needs_a_ready_backup_of_the_same_type_and_mode(moto):
    _, copy = ready_copy(moto)
    other = "NON_FIPS" if copy["Mode"] == "FIPS" else "FIPS"
    with pytest.raises(ClientError, match="cannot be restored"):
        restore(moto, copy, Mode=other)
    with pytest.raises(ClientError, match="cannot be restored"):
        restore(moto, copy, HsmType="hsm1.medium")
    with pytest.raises(ClientError, match="not found"):
        restore(moto, copy, SourceBackupId="backup-aaaaaaaaaaa")
    moto.hsm(DR).delete_backup(BackupId=copy["BackupId"])
    with pytest.raises(ClientError, match="not READY"):
        restore(moto, copy)


def test_the_cluster_quota_and_failed_restores(moto):
    _, copy = ready_copy(moto)
    moto.control("POST", "config", {"clusterQuota": 1, "clusterQuotaErrorCode": "CloudHsmServiceException", "failRestores": True})
    first = restore(moto, copy)
    with pytest.raises(ClientError) as over:
        restore(moto, copy)
    assert over.value.response["Error"]["Code"] == "CloudHsmServiceException"
    wait_until("the failed restore", lambda: state(moto, first["ClusterId"]) == "DEGRADED", timeout=30)
    moto.hsm(DR).delete_cluster(ClusterId=first["ClusterId"])
    wait_until("the deletion", lambda: state(moto, first["ClusterId"]) == "DELETED", timeout=30)
    assert restore(moto, copy)["State"] == "CREATE_IN_PROGRESS", "the quota counts live clusters only"
