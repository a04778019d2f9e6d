"""The local developer loop: `make stack` (serve) runs the local stack in the foreground with the
functions served by `cargo lambda watch`; `make invoke` (invoke) sends an event file to one of
them."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from stack import SOURCE_REGION, Stack


def serve(root: Path, state_dir: Path) -> None:
    """`make stack`: the local stack in the foreground, the functions served by cargo lambda
    watch (rebuilt when the sources change), until Ctrl-C. Writes where everything listens to
    `state_dir/session.json`, which `make invoke` reads."""
    state_dir.mkdir(parents=True, exist_ok=True)
    session = state_dir / "session.json"
    with Stack.started(root, log_dir=state_dir / "logs", watch_changes=True) as stack:
        session.write_text(json.dumps({
            "endpoint": stack.endpoint,
            "stateMachineArn": stack.state_machine_arn,
            "functions": stack.lambda_ports,
        }, indent=2))
        print(f"local stack: AWS APIs (moto, IAM enforced) at {stack.endpoint}", flush=True)
        print(f"  state machine {stack.state_machine_arn}", flush=True)
        for binary, port in stack.lambda_ports.items():
            print(f"  {binary:<11} cargo lambda watch on 127.0.0.1:{port}, as its own role; log {stack.log_dir}/cargo-lambda-{binary}.log", flush=True)
        print("  to call the APIs yourself (as the account): "
              f"AWS_ENDPOINT_URL={stack.endpoint} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION={SOURCE_REGION}", flush=True)
        print("ready: make invoke FN=start-copy EVENT=events/scheduled-sweep.json (Ctrl-C stops)", flush=True)
        try:
            while all(p.poll() is None for p in stack.processes):
                time.sleep(0.5)
            print("a process of the stack stopped; see the logs", file=sys.stderr)
        except KeyboardInterrupt:
            pass
        finally:
            session.unlink(missing_ok=True)


def invoke_from_session(state_dir: Path, function: str, event_file: Path) -> int:
    """`make invoke`: sends an event file to a function of the running `make stack`."""
    session = state_dir / "session.json"
    if not session.exists():
        print(f"no local stack is running (no {session}): start `make stack` in another terminal", file=sys.stderr)
        return 2
    ports = json.loads(session.read_text())["functions"]
    if function not in ports:
        print(f"unknown function {function!r}; one of {', '.join(ports)}", file=sys.stderr)
        return 2
    stack = Stack(root=Path("."), lambda_ports=ports)
    payload, error = stack.invoke_raw(function, event_file.read_bytes())
    print(json.dumps(payload, indent=2))
    if error:
        print(f"{function} answered with an error ({error})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    state_dir = Path(os.environ.get("STACK_DIR", root / ".stack" / "dev"))
    args = sys.argv[1:]
    if args == ["serve"]:
        serve(root, state_dir)
    elif len(args) == 3 and args[0] == "invoke":
        sys.exit(invoke_from_session(state_dir, args[1], Path(args[2])))
    else:
        sys.exit("usage: dev.py serve | invoke FUNCTION EVENT_FILE")
