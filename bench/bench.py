"""`make bench`: cost and speed figures, measured in one run on the local stack, with ratios
against a Python boto3 handler doing the same job (bench/python_handler, comparison only), and
per copied backup on the real state machine (bench/per_copy.py).

Prints a table; asserts nothing (benchmarks are not tests)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import fleet
import per_copy
from runtime_api import measure
from stack import DESTINATION_REGIONS, Stack, backup_created_event, check_request, copy_request, prune_event, schedule_event

ROOT = Path(__file__).resolve().parent.parent

RUNS = int(os.environ.get("BENCH_RUNS", "7"))
BENCH_PYTHON = ROOT / ".tools" / "bench" / "bin" / "python"


def say(text: str = "") -> None:
    print(text, flush=True)


def function_env(stack: Stack, binary: str) -> dict[str, str]:
    """The function's environment as the stack serves it (template variables, region, endpoint,
    its role's session), run by hand here, logging warnings only."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        **stack.environment(binary),
        "RUST_LOG": "warn",
        "AWS_LAMBDA_LOG_LEVEL": "WARN",
    }


def check_event(backup_id: str) -> dict:
    """check-copy's input (events/check-copy.json) for the first check of a copy just requested
    (none is visible yet, so both sides answer WAIT after one DescribeBackups)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    event = check_request(copy_request(backup_id, None, DESTINATION_REGIONS[0]))
    event["loop"]["startedAt"] = now
    event["copy"]["requestedAt"] = now
    return event


def start_copy_did_the_work(response) -> bool:
    return isinstance(response, dict) and len(response.get("started") or []) == len(DESTINATION_REGIONS)


def check_copy_did_the_work(response) -> bool:
    return isinstance(response, dict) and response.get("check", {}).get("next") == "WAIT"


FUNCTIONS = (
    # function, Python handler, its event for a fresh (cluster, backup), what its answer must be
    ("start-copy", "handler.lambda_handler",
     lambda cluster_id, backup_id, i: backup_created_event(backup_id, cluster_id, event_id=f"bench-{i}"), start_copy_did_the_work),
    ("check-copy", "check.lambda_handler", lambda cluster_id, backup_id, i: check_event(backup_id), check_copy_did_the_work),
)


def init_and_memory(stack: Stack) -> list[tuple[str, str, str, str, str]]:
    """Init time and peak RSS of each function (release build) and its Python counterpart,
    served the same event the same way; medians of RUNS runs, alternating."""
    rows = []
    for function, python_handler, make_event, did_the_work in FUNCTIONS:
        env = function_env(stack, function)
        sides = {
            "rust": ([str(ROOT / "target" / "release" / function)], {}),
            "python": ([str(BENCH_PYTHON), "-m", "awslambdaric", python_handler], {"PYTHONPATH": str(ROOT / "bench" / "python_handler")}),
        }
        results: dict[str, list] = {"rust": [], "python": []}
        for i in range(RUNS):
            for side, (argv, extra) in sides.items():
                cluster_id, backup_id = stack.create_cluster()
                m = measure(argv, {**env, **extra}, make_event(cluster_id, backup_id, f"{side}-{i}"))
                if not did_the_work(m.response):
                    raise RuntimeError(f"{function} ({side}) did not do the work: {str(m.response)[:300]}")
                results[side].append(m)
        med = lambda side, attr: statistics.median(getattr(m, attr) for m in results[side])  # noqa: E731
        for label, attr, unit, scale in (
            ("init (process start -> ready)", "init_seconds", "ms", 1000),
            ("first invocation", "invoke_seconds", "ms", 1000),
            ("peak RSS after init", "init_peak_rss_kib", "MiB", 1 / 1024),
            ("peak RSS after one invocation", "invoke_peak_rss_kib", "MiB", 1 / 1024),
        ):
            r, p = med("rust", attr), med("python", attr)
            rows.append((label, function, f"{r * scale:.1f} {unit}", f"{p * scale:.1f} {unit}", f"{r / p:.3f}"))
    return rows


def init_against_floor(stack: Stack) -> list[tuple[str, str, str, str]]:
    """start-copy's init and RSS beside the floor: examples/init_floor, which starts the runtime
    and builds the same SDK clients and nothing else; medians of RUNS runs, alternating."""
    env = function_env(stack, "start-copy")
    sides = {"start-copy": ROOT / "target" / "release" / "start-copy", "floor": ROOT / "target" / "release" / "examples" / "init_floor"}
    results: dict[str, list] = {side: [] for side in sides}
    for i in range(RUNS):
        for side, binary in sides.items():
            cluster_id, backup_id = stack.create_cluster()
            event = backup_created_event(backup_id, cluster_id, event_id=f"floor-{side}-{i}") if side == "start-copy" else {"ping": i}
            m = measure([str(binary)], env, event)
            if m.response is None:
                raise RuntimeError(f"{side} gave no answer")
            results[side].append(m)
    med = lambda side, attr: statistics.median(getattr(m, attr) for m in results[side])  # noqa: E731
    rows = []
    for label, attr, unit, scale in (("init", "init_seconds", "ms", 1000), ("peak RSS after init", "init_peak_rss_kib", "MiB", 1 / 1024)):
        ours, floor = med("start-copy", attr), med("floor", attr)
        rows.append((label, f"{ours * scale:.1f} {unit}", f"{floor * scale:.1f} {unit}", f"{ours / floor:.2f}"))
    return rows


SWEEP_REGIONS = ("us-west-2", "eu-west-1", "ap-southeast-2")


def one_sweep(label: str, clusters: int, backups: int, copied: bool, event: dict, extra_env: dict[str, str], execute: bool = True) -> tuple[tuple[str, ...], dict]:
    """One start-copy run over a seeded history of daily backups (copied to SWEEP_REGIONS or not):
    the table row (API calls by operation, wall time) and start-copy's summary."""
    with Stack.started(ROOT, serve_functions=False, execute=execute, log_dir=ROOT / ".stack" / "bench-logs") as stack:
        stack.control("POST", "seed", {"clusters": clusters, "backups": backups, "everyHours": 24, "copyTo": list(SWEEP_REGIONS) if copied else []})
        stack.control("POST", "requests")
        env = {**function_env(stack, "start-copy"), "DESTINATION_REGIONS": ",".join(SWEEP_REGIONS), **extra_env}
        m = measure([str(ROOT / "target" / "release" / "start-copy")], env, event, timeout=600)
        counts = stack.control("GET", "requests")["counts"]
    if not isinstance(m.response, dict):
        raise RuntimeError(f"{label}: no summary: {str(m.response)[:300]}")
    by_op = {op.split(":", 1)[1]: sum(per.values()) for op, per in counts.items()}
    row = (
        label,
        f"{clusters}",
        f"{m.response['examined']}",
        ", ".join(f"{op} {n}" for op, n in sorted(by_op.items())),
        f"{sum(by_op.values())}",
        f"{m.invoke_seconds * 1000:.0f} ms",
    )
    return row, m.response


def sweep_scaling() -> list[tuple[str, ...]]:
    """Steady state (every backup already copied, 100 per cluster) at three fleet sizes, then the
    daily pruning run, which needs every copy and so reads the destinations whole (nothing is
    deleted here: the 1,000 newest are kept)."""
    runs = [(f"{n:,} x {len(SWEEP_REGIONS)}", n, schedule_event(), {}) for n in (100, 1_000, 10_000)]
    runs.append((f"10,000 x {len(SWEEP_REGIONS)} prune", 10_000, prune_event(), {"KEEP_NEWEST_COPIES": "1000"}))
    rows = []
    for label, backups, event, extra_env in runs:
        row, summary = one_sweep(label, max(1, backups // 100), backups, True, event, extra_env)
        if summary.get("started") != []:
            raise RuntimeError(f"{label}: the sweep did not find everything copied: {str(summary)[:300]}")
        rows.append(row)
    return rows


def first_sweep(clusters: int = 143, per_cluster: int = 7) -> tuple[str, ...]:
    """The first sweep after deploying over a fleet with nothing copied yet: every backup of the
    window needs a copy in every region, so it starts one execution each (recorded, not run)."""
    label = f"{clusters * per_cluster:,} x {len(SWEEP_REGIONS)} first"
    row, summary = one_sweep(label, clusters, clusters * per_cluster, False, schedule_event(), {}, execute=False)
    expected = clusters * per_cluster * len(SWEEP_REGIONS)
    if summary.get("startedCount") != expected:
        raise RuntimeError(f"the first sweep did not start {expected} executions: {str(summary)[:300]}")
    return row


def binary_sizes() -> list[tuple[str, str]]:
    out = ROOT / "target" / "lambda"
    return [(b, f"{(out / b / 'bootstrap').stat().st_size / 2**20:.2f} MiB") for b in ("start-copy", "check-copy")]


def main() -> int:
    started = time.monotonic()
    say(f"cloudhsm-backup-copy bench ({RUNS} runs each, medians; ratio = Rust / Python)")
    with Stack.started(ROOT, serve_functions=False, log_dir=ROOT / ".stack" / "bench-logs") as stack:
        rows = init_and_memory(stack)
        floor_rows = init_against_floor(stack)
    say()
    say(f"{'figure':<32} {'function':<11} {'Rust':>10} {'Python boto3':>13} {'ratio':>7}")
    for row in rows:
        say(f"{row[0]:<32} {row[1]:<11} {row[2]:>10} {row[3]:>13} {row[4]:>7}")
    say("(first invocation: start-copy makes 3 DescribeBackups and 2 StartExecution, check-copy 1 DescribeBackups)")
    say()
    say(f"{'start-copy against the floor':<32} {'start-copy':>10} {'floor':>10} {'ratio':>7}")
    for row in floor_rows:
        say(f"{row[0]:<32} {row[1]:>10} {row[2]:>10} {row[3]:>7}")
    say("(floor: examples/init_floor, the runtime plus the same SDK clients, nothing else)")
    say()
    say("one steady-state sweep (daily backups, 100 per cluster, all copied; 168 h window):")
    say(f"{'backups x regions':<18} {'clusters':>8} {'read':>6}  {'API calls by operation':<48} {'total':>6} {'wall':>9}")
    for row in [*sweep_scaling(), first_sweep()]:
        say(f"{row[0]:<18} {row[1]:>8} {row[2]:>6}  {row[3]:<48} {row[4]:>6} {row[5]:>9}")
    say("(prune: the daily pruning run, which reads destinations whole; first: the first sweep after")
    say(" deploying, nothing copied yet, one StartExecution per backup and region, 8 in flight)")
    say()
    with Stack.started(ROOT, release=True, log_dir=ROOT / ".stack" / "bench-logs", function_env={"RUST_LOG": "warn"}) as stack:
        per_copy.report(say, ROOT, stack)
    say()
    fleet.run(say)
    say()
    say("release binary size (cargo lambda build --release --arm64):")
    for name, size in binary_sizes():
        say(f"  {name:<12} {size}")
    say()
    say(f"bench took {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
