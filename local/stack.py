"""The local AWS stack: moto (extended, see moto_ext.py) plus `cargo lambda watch` serving the
project's real binaries, wired so that the real state machine runs end to end.

Used by the demo and the integration tests:

    with Stack.started(root) as stack:
        stack.hsm("us-east-1").create_cluster(...)
        stack.invoke("start-copy", event)

Everything listens on free loopback ports and is stopped (whole process groups) on exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import boto3
from botocore.config import Config

from deployed import Deployment
from emulator.lambda_forwarding import post_invocation
from emulator.state import ACCOUNT, RECOVERY_ACCOUNT  # noqa: F401 - the tests import them from here

SOURCE_REGION = "us-east-1"
DESTINATION_REGIONS = ("us-west-2", "eu-west-1")
# Names as the template gives them in a stack called this.
STACK_NAME = "cloudhsm-backup-copy"
STATE_MACHINE_NAME = f"{STACK_NAME}-copy-tracker"
DRILL_STATE_MACHINE_NAME = f"{STACK_NAME}-restore-drill"
EVENT_SOURCE = "cloudhsm-backup-copy"
# Each binary and the template resource that deploys it.
FUNCTIONS = {
    "start-copy": "StartCopyFunction",
    "copy-step": "CopyStepFunction",
    "check-copy": "CheckCopyFunction",
    "share-copy": "ShareCopyFunction",
    "restore-drill": "RestoreDrillFunction",
}
# Where local drills run (the template's RestoreDrillSubnets): the first DR region.
DRILL_SUBNETS = "us-west-2=subnet-0a1b2c3d"
# Provenance tag keys start with this (see src/tags.rs).
TAG_PREFIX = "cloudhsm-backup-copy"

# Loop policy for local runs: seconds instead of minutes.
LOCAL_POLICY = {
    "InitialWaitSeconds": "1",
    "MaxWaitSeconds": "3",
    "BackoffPercent": "200",
    "DeadlineSeconds": "90",
    "MaxCopyAttempts": "3",
    "VisibilityGraceSeconds": "10",
}
# The drill loop's policy for local runs (the template's are minutes).
LOCAL_DRILL_POLICY = {
    "DrillInitialWaitSeconds": "1",
    "DrillMaxWaitSeconds": "2",
    "DrillBackoffPercent": "200",
    "DrillDeadlineSeconds": "30",
    "DrillMaxCleanAttempts": "10",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def function_arn(binary: str, region: str = SOURCE_REGION) -> str:
    """The deployed function's ARN (named `<stack>-<binary>` by the template)."""
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{STACK_NAME}-{binary}"


def render_definition(root: Path, substitutions: dict[str, str], name: str = "copy-tracker") -> str:
    """The ASL with ${...} placeholders filled in, as CloudFormation does at deploy time."""
    text = (root / "statemachine" / f"{name}.asl.json").read_text()
    for key, value in substitutions.items():
        text = text.replace("${" + key + "}", value)
    if "${" in text:
        start = text.index("${")
        raise ValueError(f"unfilled placeholder {text[start:text.index('}', start) + 1]}")
    json.loads(text)
    return text


def local_substitutions(policy: dict[str, str] | None = None) -> dict[str, str]:
    return {
        "CopyStepFunctionArn": function_arn("copy-step"),
        "CheckCopyFunctionArn": function_arn("check-copy"),
        "ShareCopyFunctionArn": function_arn("share-copy"),
        "EventBusName": "default",
        "EventSource": EVENT_SOURCE,
        **LOCAL_POLICY,
        **(policy or {}),
    }


def drill_substitutions(policy: dict[str, str] | None = None) -> dict[str, str]:
    return {"RestoreDrillFunctionArn": function_arn("restore-drill"), **LOCAL_DRILL_POLICY, **(policy or {})}


def _exit_once(*_: Any) -> None:
    """SIGTERM: exit, and ignore the next one (make passes its own SIGTERM on to us), so that a
    second signal cannot cut the clean-up short."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(143)


def wait_until(what: str, probe: Any, timeout: float, interval: float = 0.2) -> Any:
    """Polls `probe` until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except Exception as e:  # noqa: BLE001 - we report the last one on timeout
            last_error = e
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


@dataclass
class Stack:
    root: Path
    copy_delay: float = 2.0
    policy: dict[str, str] = field(default_factory=dict)
    # Overrides of LOCAL_DRILL_POLICY (e.g. a short DrillDeadlineSeconds).
    drill_policy: dict[str, str] = field(default_factory=dict)
    # The template's RestoreDrillSubnets.
    drill_subnets: str = DRILL_SUBNETS
    # The template's RecoveryAccounts (e.g. RECOVERY_ACCOUNT): each READY copy is shared with
    # them. Off by default, so that the other tests' API call counts hold no RAM calls.
    recovery_accounts: str = ""
    # The template's RecoveryVerifierRole: dr-account.yaml's role, deployed in the recovery
    # account when set, which sweeps assume to check what that account sees.
    recovery_role: str = ""
    # The template's RestoreDrillAccount (e.g. RECOVERY_ACCOUNT): drills run there, through the
    # drill role dr-account.yaml makes (deployed with DrillRegions = the drill subnets' regions).
    drill_account: str = ""
    lookback_hours: int = 168
    # Extra environment for both functions (e.g. INCLUDE_CLUSTERS, COPY_TAGS).
    function_env: dict[str, str] = field(default_factory=dict)
    # False: moto and the state machine only (the benchmark runs the functions itself).
    serve_functions: bool = True
    # Serve release builds (the benchmark) instead of debug builds.
    release: bool = False
    # Authorize the functions' and the state machine's requests against their roles.
    enforce_iam: bool = True
    # Rebuild and restart a function when its sources change (`make stack`); tests pin the build.
    watch_changes: bool = False
    # False: executions are recorded, not run (the benchmark's sweeps start thousands).
    execute: bool = True
    log_dir: Path | None = None
    moto_port: int = 0
    # The port of each function's own `cargo lambda watch` (its own environment and role).
    lambda_ports: dict[str, int] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)
    function_processes: list[subprocess.Popen] = field(default_factory=list)
    # Each function's credentials: a session of the role the template gives it.
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    deployment: Deployment | None = None
    state_machine_arn: str = ""
    drill_state_machine_arn: str = ""
    events_queue_url: str = ""

    # ----- lifecycle -------------------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def started(cls, root: Path, **kwargs: Any) -> Iterator["Stack"]:
        stack = cls(root=root, **kwargs)
        if threading.current_thread() is threading.main_thread():
            # Turn SIGTERM (a CI timeout, a killed make) into an exit, so `finally` stops the
            # servers instead of leaving them running.
            signal.signal(signal.SIGTERM, _exit_once)
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()

    def start(self) -> None:
        self.log_dir = self.log_dir or self.root / ".stack" / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.moto_port = free_port()
        self.lambda_ports = {binary: free_port() for binary in FUNCTIONS}
        forwarding = [f"{STACK_NAME}-{b}=http://127.0.0.1:{port}/{b}" for b, port in self.lambda_ports.items()]
        self._spawn(
            "moto",
            [
                sys.executable,
                str(self.root / "local" / "moto_ext.py"),
                "--port", str(self.moto_port),
                *(a for f in forwarding for a in ("--function", f)),
                "--copy-delay", str(self.copy_delay),
                *([] if self.execute else ["--no-execute"]),
            ],
            env={},
        )
        wait_until("moto", lambda: self.control("GET", "config"), timeout=60)

        # The template as deployed: its roles, in moto's IAM, and a session of each.
        self.deployment = Deployment.load(self.root, self.parameters(), SOURCE_REGION, ACCOUNT, STACK_NAME)
        iam, sts = self.client("iam"), self.client("sts")
        for logical, role in self.deployment.roles.items():
            props = role["Properties"]
            arn = iam.create_role(
                RoleName=f"{STACK_NAME}-{logical}", AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
            )["Role"]["Arn"]
            assert arn == self.deployment.get_att(logical, "Arn"), arn
            for policy in props.get("Policies", []):
                iam.put_role_policy(RoleName=f"{STACK_NAME}-{logical}", PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"]))
        for binary, logical in FUNCTIONS.items():
            role_arn = self.deployment.functions[logical]["Properties"]["Role"]
            # As Lambda would: only a role that trusts lambda.amazonaws.com.
            role = next(r for n, r in self.deployment.roles.items() if self.deployment.get_att(n, "Arn") == role_arn)
            trusted = [st["Principal"].get("Service") for st in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]]
            assert "lambda.amazonaws.com" in trusted, f"{logical}'s role does not trust Lambda"
            session = sts.assume_role(RoleArn=role_arn, RoleSessionName=binary, DurationSeconds=43200)["Credentials"]
            self.credentials[binary] = {
                "AWS_ACCESS_KEY_ID": session["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": session["SecretAccessKey"],
                "AWS_SESSION_TOKEN": session["SessionToken"],
            }

        if self.recovery_role or self.drill_account:
            self.deploy_recovery_account()

        sfn = self.client("stepfunctions")
        definition = render_definition(self.root, local_substitutions(self.policy))
        self.state_machine_arn = sfn.create_state_machine(
            name=STATE_MACHINE_NAME,
            definition=definition,
            roleArn=self.deployment.get_att("CopyTrackerRole", "Arn"),
            type="STANDARD",
        )["stateMachineArn"]
        self.drill_state_machine_arn = sfn.create_state_machine(
            name=DRILL_STATE_MACHINE_NAME,
            definition=render_definition(self.root, drill_substitutions(self.drill_policy), "restore-drill"),
            roleArn=self.deployment.get_att("RestoreDrillStateMachineRole", "Arn"),
            type="STANDARD",
        )["stateMachineArn"]
        # From here on, what the functions and the state machine do is authorized as on AWS.
        self.control("POST", "config", {"enforceIam": self.enforce_iam and self.serve_functions})

        # Announcements are routed to a queue, where tests and the demo read them.
        sqs = self.client("sqs")
        self.events_queue_url = sqs.create_queue(QueueName="copy-announcements")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.events_queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = self.client("events")
        events.put_rule(Name="copy-announcements", EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
        events.put_targets(Rule="copy-announcements", Targets=[{"Id": "queue", "Arn": queue_arn}])

        if self.serve_functions:
            self._start_functions()

    def parameters(self) -> dict[str, str]:
        """The stack's parameters for the local run."""
        return {
            "DestinationRegions": ",".join(DESTINATION_REGIONS),
            "LookbackHours": str(self.lookback_hours),
            "RestoreDrillSubnets": self.drill_subnets,
            "RecoveryAccounts": self.recovery_accounts,
            "RecoveryVerifierRole": self.recovery_role,
            "RestoreDrillAccount": self.drill_account,
        }

    def environment(self, binary: str) -> dict[str, str]:
        """A function's environment: the template's variables, as deployed, plus the test's
        overrides (`function_env`), the runtime's AWS_REGION and its role's session."""
        assert self.deployment is not None
        variables = self.deployment.functions[FUNCTIONS[binary]]["Properties"]["Environment"]["Variables"]
        return {
            **{k: str(v) for k, v in variables.items()},
            "AWS_REGION": SOURCE_REGION,
            "AWS_DEFAULT_REGION": SOURCE_REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
            "RUST_LOG": "info",
            **self.credentials[binary],
            **self.function_env,
        }

    def _start_functions(self) -> None:
        venv_bin = Path(sys.executable).parent
        for binary, port in self.lambda_ports.items():
            proc = self._spawn(
                f"cargo-lambda-{binary}",
                [
                    str(venv_bin / "cargo-lambda"), "lambda", "watch",
                    *([] if self.watch_changes else ["--ignore-changes"]), "--quiet",
                    "-A", "127.0.0.1", "-P", str(port),
                    "--concurrency", "4",
                    *(["--release"] if self.release else []),
                ],
                env={"PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}", **self.environment(binary)},
                cwd=self.root,
            )
            self.function_processes.append(proc)
        for binary in self.lambda_ports:
            wait_until(f"cargo lambda watch for {binary}", lambda b=binary: self._lambda_port_open(b), timeout=120)

    def restart_functions(self, **env: str) -> None:
        """Restarts the functions with changed settings; moto and its data stay."""
        for proc in self.function_processes:
            self._stop_process(proc)
            self.processes.remove(proc)
        self.function_processes.clear()
        for binary in self.lambda_ports:
            wait_until("the functions' ports to close", lambda b=binary: not self._lambda_port_open(b), timeout=30)
        self.function_env = {**self.function_env, **env}
        self._start_functions()

    def stop(self) -> None:
        for proc in reversed(self.processes):
            self._stop_process(proc)
        self.processes.clear()
        self.function_processes.clear()

    @staticmethod
    def _stop_process(proc: subprocess.Popen) -> None:
        """Stops a process and everything it started (its own process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen:
        assert self.log_dir is not None
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        # Credentials are the role's session only: none inherited from the caller's shell.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env={**inherited, **env}, cwd=cwd, start_new_session=True)
        self.processes.append(proc)
        return proc

    def _lambda_port_open(self, binary: str) -> bool:
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", self.lambda_ports[binary])) == 0

    def function_log(self, binary: str) -> str:
        assert self.log_dir is not None
        return (self.log_dir / f"cargo-lambda-{binary}.log").read_text(errors="replace")

    # ----- access ----------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    def client(self, service: str, region: str = SOURCE_REGION, account: str | None = None) -> Any:
        """A client with the account's own keys (root): the stack's account, or `account` (the
        recovery account, RECOVERY_ACCOUNT), which moto takes from a header."""
        client = boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 2}),
        )
        if account is not None:
            client.meta.events.register("before-send", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
        return client

    def hsm(self, region: str = SOURCE_REGION, account: str | None = None) -> Any:
        return self.client("cloudhsmv2", region, account)

    def control(self, method: str, path: str, body: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.endpoint}/_ext/{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def invoke(self, function: str, payload: Any, timeout: float = 300) -> tuple[Any, str | None]:
        """Invokes a function through cargo lambda watch; returns (payload, function error)."""
        return self.invoke_raw(function, json.dumps(payload).encode(), timeout)

    def invoke_raw(self, function: str, body: bytes, timeout: float = 300) -> tuple[Any, str | None]:
        """Invokes a function (by binary name) with these bytes as the payload, JSON or not."""
        server = f"http://127.0.0.1:{self.lambda_ports[function]}"
        payload, error, status = post_invocation(server, function, body, timeout)
        if status and not error:
            error = f"HTTP {status}"
        return (json.loads(payload) if payload else None), error

    # ----- helpers for the flow --------------------------------------------------------------

    def create_cluster(self, tags: list[dict[str, str]] | None = None) -> tuple[str, str]:
        """A cluster in the source region; moto gives it one READY backup. Returns (cluster, backup)."""
        hsm = self.hsm()
        extra = {"TagList": tags} if tags else {}
        cluster = hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=["subnet-0a1b2c3d"], **extra)["Cluster"]
        backups = hsm.describe_backups(Filters={"clusterIds": [cluster["ClusterId"]]})["Backups"]
        return cluster["ClusterId"], backups[0]["BackupId"]

    def make_backup(self, cluster_id: str, age_hours: float = 0) -> str:
        """Another READY backup of a cluster, taken `age_hours` ago."""
        return self.control("POST", "backups", {"clusterId": cluster_id, "ageHours": age_hours})["BackupId"]

    def deploy_recovery_account(self) -> str:
        """dr-account.yaml's roles, as the recovery account would deploy them for this stack (the
        drill role too when drills run there); the verifier's ARN."""
        drill_regions = ",".join(e.split("=", 1)[0] for e in self.drill_subnets.split(",") if e) if self.drill_account else ""
        deployment = Deployment.load(self.root, {"SourceAccountId": ACCOUNT, "SourceStackName": STACK_NAME, "DrillRegions": drill_regions},
                                     SOURCE_REGION, RECOVERY_ACCOUNT, template="dr-account.yaml")
        iam = self.client("iam", account=RECOVERY_ACCOUNT)
        arns = {}
        for logical, role in deployment.roles.items():
            props = role["Properties"]
            arns[logical] = iam.create_role(RoleName=props["RoleName"], AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
                                            MaxSessionDuration=props["MaxSessionDuration"])["Role"]["Arn"]
            for policy in props["Policies"]:
                iam.put_role_policy(RoleName=props["RoleName"], PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"]))
        return arns["RecoveryVerifierRole"]

    def kit(self, region: str, cluster_id: str) -> dict | None:
        """The restore kit the sweeps keep for a cluster in a DR region, if there is one."""
        name = f"/cloudhsm-backup-copy/{STACK_NAME}/{SOURCE_REGION}/{cluster_id}"
        found = self.client("ssm", region).get_parameters(Names=[name])["Parameters"]
        return json.loads(found[0]["Value"]) if found else None

    def copies(self, backup_id: str, region: str) -> list[dict]:
        pages = self.hsm(region).get_paginator("describe_backups").paginate(Filters={"sourceBackupIds": [backup_id]})
        return [b for page in pages for b in page["Backups"]]

    def executions(self, machine: str | None = None) -> list[dict]:
        """The copy tracker's executions (or those of `machine`, an ARN)."""
        arn = machine or self.state_machine_arn
        pages = self.client("stepfunctions").get_paginator("list_executions").paginate(stateMachineArn=arn)
        return [e for page in pages for e in page["executions"]]

    def wait_for_drills(self, count: int, timeout: float = 180) -> list[dict]:
        """Waits until `count` drill executions exist and none is RUNNING."""

        def done() -> list[dict] | None:
            runs = self.executions(self.drill_state_machine_arn)
            return runs if len(runs) >= count and all(r["status"] != "RUNNING" for r in runs) else None

        return wait_until(f"{count} drills to finish", done, timeout=timeout, interval=0.5)

    def wait_for_executions(self, count: int, timeout: float = 180) -> list[dict]:
        """Waits until `count` executions exist and none is RUNNING."""

        def done() -> list[dict] | None:
            runs = self.executions()
            return runs if len(runs) >= count and all(r["status"] != "RUNNING" for r in runs) else None

        return wait_until(f"{count} executions to finish", done, timeout=timeout, interval=0.5)

    def announcements(self, wait: float = 0) -> list[dict]:
        """Drains the announcement queue (the EventBridge events the state machine put)."""
        sqs = self.client("sqs")
        found: list[dict] = []
        deadline = time.monotonic() + wait
        while True:
            messages = sqs.receive_message(QueueUrl=self.events_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            for m in messages:
                found.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.events_queue_url, ReceiptHandle=m["ReceiptHandle"])
            if not messages and time.monotonic() >= deadline:
                return found
            if not messages:
                time.sleep(0.3)


EVENTS = Path(__file__).resolve().parent.parent / "events"


def example_event(name: str) -> dict:
    """A payload from `events/` (the documented examples), to adapt."""
    return json.loads((EVENTS / name).read_text())


def backup_created_event(backup_id: str, cluster_id: str | None = None, event_id: str = "demo-1") -> dict:
    """Our documented custom event (events/backup-created.json) naming this backup."""
    event = example_event("backup-created.json")
    event["id"] = event_id
    event["detail"] = {"backupId": backup_id, **({"clusterId": cluster_id} if cluster_id else {})}
    return event


def schedule_event(event_id: str = "sweep-1") -> dict:
    """The sweep schedule's tick (events/scheduled-sweep.json)."""
    return {**example_event("scheduled-sweep.json"), "id": event_id}


def copy_request(backup_id: str, cluster_id: str | None, destination: str = "us-west-2", source: str = SOURCE_REGION) -> dict:
    """The copy step's input (events/copy-step.json) for one backup and destination."""
    request = example_event("copy-step.json")
    request["job"] = {**request["job"], "sourceBackupId": backup_id, "sourceClusterId": cluster_id,
                      "sourceRegion": source, "destinationRegion": destination}
    return request


def check_request(copy: dict) -> dict:
    """check-copy's input (events/check-copy.json) for the job of a copy step's input."""
    return {**example_event("check-copy.json"), "job": copy["job"]}


def prune_event() -> dict:
    """The pruning schedule's constant input (template.yaml, StartCopyFunction's Prune event)."""
    return {"action": "prune"}
