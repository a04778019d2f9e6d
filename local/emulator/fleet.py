"""Test data made the way AWS would have made it: an aged backup of a cluster, a fleet's
history with its copies (``POST /_ext/backups``, ``POST /_ext/seed``)."""

from __future__ import annotations

import datetime as dt

from .state import ACCOUNT


def make_backup(region: str, cluster_id: str, age_hours: float) -> dict:
    from moto.cloudhsmv2 import models

    """A READY backup of an existing cluster, taken `age_hours` ago (AWS makes these daily)."""
    backend = models.cloudhsmv2_backends[ACCOUNT][region]
    cluster = backend.clusters.get(cluster_id)
    if cluster is None:
        raise KeyError(f"no cluster {cluster_id} in {region}")
    backup = models.Backup(
        cluster_id=cluster_id,
        hsm_type=cluster.hsm_type,
        mode=cluster.mode,
        tag_list=list(cluster.tag_list),
        region_name=region,
    )
    backup.create_timestamp = models.utcnow() - dt.timedelta(hours=age_hours)
    backend.backups[backup.backup_id] = backup
    return {"BackupId": backup.backup_id}

def seed(region: str, clusters: int, backups: int, every_hours: float, copy_to: list[str]) -> dict:
    from moto.cloudhsmv2 import models

    """A fleet's history at once (for benchmarks): `clusters` clusters whose `backups` READY
    backups were taken one every `every_hours` hours (newest half an interval ago), each with a READY copy
    in every `copy_to` region, as this tool would have made it."""
    backend = models.cloudhsmv2_backends[ACCOUNT][region]
    ids = []
    cluster_ids = [
        backend.create_cluster(None, "hsm2m.medium", None, ["subnet-0a1b2c3d"], None, None, None)["ClusterId"]
        for _ in range(clusters)
    ]
    # create_cluster makes a backup of its own; the seeded history replaces it.
    for backup_id in [b.backup_id for b in backend.backups.values() if b.cluster_id in cluster_ids]:
        del backend.backups[backup_id]
    now = models.utcnow()
    for i in range(backups):
        cluster_id = cluster_ids[i % clusters]
        backup = models.Backup(cluster_id=cluster_id, hsm_type="hsm2m.medium", mode="DEFAULT", tag_list=[], region_name=region)
        # Half an interval off the hour, so no backup sits exactly on a window's edge.
        backup.create_timestamp = now - dt.timedelta(hours=every_hours * (i // clusters + 0.5))
        backend.backups[backup.backup_id] = backup
        ids.append(backup.backup_id)
        for destination in copy_to:
            copy = models.Backup(
                cluster_id=None,
                hsm_type="hsm2m.medium",
                mode="DEFAULT",
                tag_list=[{"Key": "cloudhsm-backup-copy:source-backup-id", "Value": backup.backup_id},
                          {"Key": "cloudhsm-backup-copy:source-region", "Value": region}],
                source_backup=backup.backup_id,
                source_cluster=cluster_id,
                source_region=region,
                region_name=destination,
            )
            copy.create_timestamp = backup.create_timestamp
            models.cloudhsmv2_backends[ACCOUNT][destination].backups[copy.backup_id] = copy
    return {"clusters": cluster_ids, "backups": len(ids)}
