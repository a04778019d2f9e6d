"""moto server, extended with what the local stack needs and moto 5.2.5 lacks.

Run as ``python local/moto_ext.py --port N``. On top of the pinned moto it:

* adds CloudHSM ``CopyBackupToRegion``: the copy appears in the destination region as
  CREATE_IN_PROGRESS, and after ``copyDelaySeconds`` turns READY, or DELETED when copies are
  switched to fail (``failNextCopies`` / ``failAllCopies``);
* adds CloudHSM ``DeleteBackup`` (to PENDING_DELETION) and ``ModifyBackupAttributes``, and
  gives a copy its source's CreateTimestamp, as AWS does;
* restores clusters from backups as AWS does (see emulator/restore.py): CreateCluster checks
  the backup, its HsmType and Mode and the cluster quota (``clusterQuota``), the cluster is
  CREATE_IN_PROGRESS for ``restoreDelaySeconds`` and then ACTIVE (or DEGRADED with
  ``failRestores``); DeleteCluster waits for it and for its HSMs, then DELETE_IN_PROGRESS;
* writes CloudHSM timestamps as epoch seconds (moto writes zone-less ISO strings, which the AWS
  SDK for Rust rejects), makes ids look like AWS's (``backup-`` + 11 base32 characters), and
  pages DescribeBackups at 50 like AWS;
* runs Step Functions executions for real (``execute_state_machine``), thousands at once (see
  sfn_scaling.py), and forwards Lambda invokes of the named functions to ``cargo lambda watch``
  (``--function NAME=URL/BINARY``);
* enforces IAM (``enforceIam``, see iam_enforce.py): requests signed by a role's session, or by
  the Step Functions engine as its state machine's role, are authorized against the role's
  policies in moto's IAM, resources and conditions included; ``GET /_ext/denials`` lists the
  denials and ``GET /_ext/authorizations`` the statements that allowed something;
* compresses time for benchmarks (``timeScale``): Wait states sleep a fraction of their
  seconds and the tracked copy's clock skips the rest; ``copyDelays`` sets a copy time per
  source backup, and each ``/_ext/calls`` entry reports when its copy was made, finished and
  was first reported finished, on that clock;
* takes the least convenient answer where AWS is silent, as switches: dead backups drop out of
  listings (``deletedListedSeconds``, ``pendingDeletionListedSeconds``: AWS documents nothing
  for DELETED, 7 days for PENDING_DELETION), DescribeBackups' order (``listingOrder``), new
  copies listed late (``listingDelaySeconds``), API rate limits per service, operation and
  region (``rateLimits``, token buckets) and a cap on copies in progress per destination
  region (``maxCopiesInProgress``);
* injects faults on request: throttling, 5xx and slow answers, per service and operation, at
  a rate, from a seeded generator (the ``faults`` switch; ``GET /_ext/faults`` counts them);
* serves AWS RAM's sharing of CloudHSM backups itself (see emulator/ram.py) for a second,
  recovery account, which lists what is shared with it and restores from it by ARN; requests
  act in the account of their keys (an AssumeRole session's is its role's);
* checks every CloudHSM, Step Functions, EventBridge, SSM and RAM request against botocore's
  model of its operation (``enforceContract``, see api_contract.py) and answers a violation with AWS's
  ValidationException; ``GET /_ext/violations`` lists them (``POST`` clears);
* serves a small control API: ``GET/POST /_ext/config`` (the switches above),
  ``GET /_ext/calls`` (every CopyBackupToRegion made) and ``POST /_ext/backups`` (``{"clusterId", "ageHours"}``: a READY backup of a cluster, taken
  that long ago, as the service makes daily), ``GET /_ext/requests`` (API requests
  served, by service, operation and region, and each DescribeBackups' filter sizes; ``POST``
  resets them), for tests to count.

Everything else is moto as released. The parts live in ``emulator/`` (one module each:
the state and switches, CloudHSM, restores, test data, time compression, Lambda forwarding, faults, the
control API); this file only wires them.
"""

from __future__ import annotations

import argparse
import os

import sfn_scaling
from emulator import cloudhsm, lambda_forwarding, restore, time_scale
from emulator.control import Control
from emulator.state import DEFAULTS, Emulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--function", action="append", default=[], metavar="NAME=http://HOST:PORT/BINARY",
                        help="forward invokes of function NAME to the cargo lambda watch serving BINARY there")
    parser.add_argument("--lambda-concurrency", type=int, default=4, help="instances cargo lambda watch runs per function")
    parser.add_argument("--copy-delay", type=float, default=DEFAULTS["copyDelaySeconds"])
    parser.add_argument("--no-execute", action="store_true", help="record Step Functions executions without running them")
    args = parser.parse_args()

    # Step Functions' Lambda tasks call back into this server on MOTO_PORT.
    os.environ["MOTO_PORT"] = str(args.port)
    emu = Emulator()
    emu.config["copyDelaySeconds"] = args.copy_delay

    from moto.core.config import default_user_config

    default_user_config["stepfunctions"]["execute_state_machine"] = not args.no_execute
    default_user_config["lambda"]["use_docker"] = False
    cloudhsm.install(emu)
    restore.install(emu)
    time_scale.install(emu)
    if args.function:
        lambda_forwarding.install(dict(f.split("=", 1) for f in args.function), args.lambda_concurrency)

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    app = Control(DomainDispatcherApplication(create_backend_app), emu)
    if not args.no_execute:
        # The engine's own calls go through `app` in-process (see sfn_scaling.py).
        sfn_scaling.install(app)
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
