"""Clusters restored from backups, as restore drills meet them (moto makes any cluster ACTIVE at
once, checks no source backup and gives every new cluster a READY backup).

``CreateCluster`` with ``SourceBackupId`` (an id or the backup's ARN) needs a READY backup in the
region with the same HsmType and Mode (a FIPS backup restores only to a FIPS cluster), counts the
region's clusters against ``clusterQuota`` (only restores are refused, so the test fleets in the
source region are not limited; refused with ``clusterQuotaErrorCode``: AWS does not
say which error), and answers CREATE_IN_PROGRESS; after ``restoreDelaySeconds`` the cluster is
ACTIVE with no HSMs (AWS does not say so in prose; its examples and Terraform's waiter do), with
the source cluster's certificate, or DEGRADED when ``failRestores`` is on. It has no HSMs, so no
backup is made. ``DeleteCluster`` refuses a cluster still being created or holding HSMs, then
shows DELETE_IN_PROGRESS for ``deleteDelaySeconds``, then DELETED for
``deletedClusterListedSeconds`` (a deleted cluster counts against no quota) before it is gone."""

from __future__ import annotations

import time
from typing import Any

from . import ram
from .cloudhsm import cluster_certificate, default_mode
from .state import Emulator

def install(emu: Emulator) -> None:
    from moto.cloudhsmv2 import models
    from moto.cloudhsmv2.exceptions import ClientError

    backend_class = models.CloudHSMV2Backend
    moto_create = backend_class.create_cluster
    moto_describe = backend_class.describe_clusters

    def create_cluster(self: Any, backup_retention_policy: Any, hsm_type: str, source_backup_id: str | None,
                       subnet_ids: list[str], network_type: str | None, tag_list: Any, mode: str | None) -> dict:
        if not source_backup_id:
            return moto_create(self, backup_retention_policy, hsm_type, source_backup_id, subnet_ids, network_type, tag_list, mode)
        backup = self.backups.get(source_backup_id.rsplit("/", 1)[-1])
        if source_backup_id.startswith("arn:") and source_backup_id.split(":")[4] != self.account_id:
            # Another account's backup: usable only while it is shared with this one (ram.py).
            if source_backup_id not in ram.shared_with(emu, self.account_id, self.region_name):
                raise ClientError("CloudHsmAccessDeniedException", f"Backup {source_backup_id} is not shared with account {self.account_id}")
            owner = models.cloudhsmv2_backends[source_backup_id.split(":")[4]][self.region_name]
            backup = owner.backups.get(source_backup_id.rsplit("/", 1)[-1])
        if backup is None:
            raise ClientError("CloudHsmResourceNotFoundException", f"Backup {source_backup_id} not found in {self.region_name}")
        if backup.backup_state != "READY":
            raise ClientError("CloudHsmInvalidRequestException", f"Backup {backup.backup_id} is {backup.backup_state}, not READY")
        if hsm_type != backup.hsm_type or default_mode(mode) != backup.mode:
            raise ClientError("CloudHsmInvalidRequestException",
                              f"Backup {backup.backup_id} is {backup.hsm_type} {backup.mode}: a cluster of "
                              f"{hsm_type} {default_mode(mode)} cannot be restored from it")
        cluster = models.Cluster(
            backup_retention_policy=backup_retention_policy, hsm_type=hsm_type, source_backup_id=backup.backup_id,
            subnet_ids=subnet_ids, network_type=network_type or "IPV4", tag_list=tag_list, mode=backup.mode,
            region_name=self.region_name,
        )
        cluster.state = "CREATE_IN_PROGRESS"
        cluster.state_message = "The cluster is being created."
        # The backup holds the source cluster's identity, certificate included.
        cluster.certificates = {"ClusterCertificate": cluster_certificate(backup.source_cluster or backup.cluster_id)}
        cluster.settles_at = time.time() + float(emu.config["restoreDelaySeconds"])
        cluster.ends_degraded = bool(emu.config["failRestores"])
        # The quota is checked and the cluster added under one lock: concurrent restores
        # cannot both take the last place.
        with emu.lock:
            settle(emu, self)
            quota = emu.config["clusterQuota"]
            alive = [c for c in self.clusters.values() if c.state != "DELETED"]
            if quota is not None and len(alive) >= int(quota):
                raise ClientError(str(emu.config["clusterQuotaErrorCode"]),
                                  f"The cluster limit for this region ({quota}) has been reached")
            self.clusters[cluster.cluster_id] = cluster
        return cluster.to_dict()

    def delete_cluster(self: Any, cluster_id: str) -> dict:
        with emu.lock:
            settle(emu, self)
            cluster = self.clusters.get(cluster_id)
            if cluster is None:
                raise ClientError("CloudHsmResourceNotFoundException", f"Cluster {cluster_id} not found")
            if cluster.state in ("CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "DELETED"):
                raise ClientError("CloudHsmInvalidRequestException", f"Cluster {cluster_id} is {cluster.state}")
            if cluster.hsms:
                raise ClientError("CloudHsmInvalidRequestException", f"Cluster {cluster_id} still has HSMs: delete them first")
            cluster.state = "DELETE_IN_PROGRESS"
            cluster.state_message = "The cluster is being deleted."
            cluster.settles_at = time.time() + float(emu.config["deleteDelaySeconds"])
            return cluster.to_dict()

    def describe_clusters(self: Any, *args: Any, **kwargs: Any) -> Any:
        with emu.lock:
            settle(emu, self)
        return moto_describe(self, *args, **kwargs)

    backend_class.create_cluster = create_cluster
    backend_class.delete_cluster = delete_cluster
    # moto's paginate decorator wraps the listing; settling first keeps its paging.
    backend_class.describe_clusters = describe_clusters


def settle(emu: Emulator, backend: Any) -> None:
    """Moves clusters whose time has come: a restore to ACTIVE (or DEGRADED), a deletion to
    DELETED, a DELETED cluster out of the listing (as long after its deletion as the switch says
    now)."""
    now = time.time()
    for cluster_id, cluster in list(backend.clusters.items()):
        if cluster.state == "DELETED":
            if now >= cluster.deleted_at + float(emu.config["deletedClusterListedSeconds"]):
                del backend.clusters[cluster_id]
            continue
        at = getattr(cluster, "settles_at", None)
        if at is None or now < at:
            continue
        cluster.settles_at = None
        if cluster.state == "DELETE_IN_PROGRESS":
            cluster.state, cluster.state_message = "DELETED", "The cluster has been deleted."
            cluster.deleted_at = at
            if now >= at + float(emu.config["deletedClusterListedSeconds"]):
                del backend.clusters[cluster_id]
        elif cluster.state == "CREATE_IN_PROGRESS" and cluster.ends_degraded:
            cluster.state, cluster.state_message = "DEGRADED", "The restore from the backup failed (injected)."
        elif cluster.state == "CREATE_IN_PROGRESS":
            cluster.state, cluster.state_message = "ACTIVE", "The cluster is ready for use."
