"""A one-event Lambda Runtime API, for measuring a function process the way Lambda runs it.

The function process is started with AWS_LAMBDA_RUNTIME_API pointing here. We record when it
first asks for an event (ready: init done), its peak RSS then, hand it one event, record when its
response arrives and its peak RSS then, and stop it.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the process's peak resident set so far."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


@dataclass
class Measurement:
    init_seconds: float
    init_peak_rss_kib: int
    invoke_seconds: float
    invoke_peak_rss_kib: int
    response: Any


def measure(argv: list[str], env: dict[str, str], event: Any, timeout: float = 60) -> Measurement:
    state: dict[str, Any] = {}
    done = threading.Event()
    proc_box: dict[str, subprocess.Popen] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path != f"{PREFIX}/invocation/next":
                self.send_error(404)
                return
            now = time.monotonic()
            pid = proc_box["p"].pid
            if "ready" in state:
                # Second ask: the measurement is over; hold the request until we stop the process.
                done.wait(timeout)
                return
            state["ready"] = now
            state["init_rss"] = peak_rss_kib(pid)
            body = json.dumps(event).encode()
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int((time.time() + 300) * 1000)))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(length)
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            if self.path.endswith("/response") or self.path.endswith("/error"):
                state["answered"] = time.monotonic()
                state["invoke_rss"] = peak_rss_kib(proc_box["p"].pid)
                state["response"] = json.loads(payload or b"null")
                done.set()
            elif self.path.endswith("/init/error"):
                state["response"] = {"initError": payload.decode(errors="replace")}
                done.set()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    full_env = {
        **env,
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
    }
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc_box["p"] = proc
    try:
        deadline = time.monotonic() + timeout
        while not done.wait(0.05):
            if proc.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited with {proc.returncode} before answering")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{argv[0]} gave no answer within {timeout}s")
    finally:
        proc.kill()
        proc.wait(timeout=10)
        server.shutdown()
    if "ready" not in state:
        raise RuntimeError(f"{argv[0]} failed during init: {state.get('response')}")
    return Measurement(
        init_seconds=state["ready"] - start,
        init_peak_rss_kib=state["init_rss"],
        invoke_seconds=state["answered"] - state["ready"],
        invoke_peak_rss_kib=state["invoke_rss"],
        response=state["response"],
    )


if __name__ == "__main__":
    print(measure(["true"], dict(os.environ), {}))
