"""The WSGI front of the emulator: every AWS API request passes the gate (counted, checked
against the API contract and IAM, throttled or faulted as the switches say) before moto; the
control API under ``/_ext/`` lets tests set switches and read what happened."""

from __future__ import annotations

import io
import json
import re
import time
from typing import Any, Callable
from urllib.parse import parse_qs

import api_contract
import iam_enforce

from . import fleet, ram
from .faults import Operation, draw_fault, rate_limited
from .state import Emulator

# Signing name in the request's credential scope -> botocore service name.
CONTRACT_SERVICES = {"cloudhsm": "cloudhsmv2", "states": "stepfunctions", "events": "events", "ssm": "ssm", "ram": "ram"}
# REST services whose operations are named by the request's path, not X-Amz-Target.
REST_SERVICES = {"ram"}
_SCOPE = re.compile(r"Credential=[^/]+/\d+/([^/]+)/([^/]+)/")


class Control:
    """WSGI middleware serving /_ext/* and passing everything else to moto."""

    def __init__(self, app: Any, emu: Emulator) -> None:
        self.app = app
        self.emu = emu

    def __call__(self, environ: dict, start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_ext/"):
            return self.control(path, environ, start_response)
        return self.gate(environ, start_response)

    # ----- AWS API requests ------------------------------------------------------------------

    def gate(self, environ: dict, start_response: Any) -> Any:
        operation = self.count(environ)
        invalid = self.check_contract(environ, operation)
        if invalid is not None:
            return reply(start_response, "400 Bad Request", invalid)
        denied = self.check_iam(environ)
        if denied is not None:
            status, body, headers = denied
            return reply(start_response, status, body, headers)
        if rate_limited(self.emu, operation):
            return reply(start_response, "400 Bad Request", {"__type": "ThrottlingException", "message": "Rate exceeded"})
        fault = draw_fault(self.emu, operation)
        if fault is None:
            return self.serve(environ, start_response, operation)
        kind, delay = fault
        if kind == "slow":
            time.sleep(delay)
            return self.serve(environ, start_response, operation)
        if kind == "5xxAfter":
            # The request is carried out, then answered 5xx: the caller cannot know.
            result = self.serve(environ, lambda *_args, **_kwargs: (lambda _data: None), operation)
            b"".join(result)
            if hasattr(result, "close"):
                result.close()
            return reply(start_response, "500 Internal Server Error", {"__type": "InternalFailure", "message": "injected 5xx after the request was carried out"})
        if kind == "throttle":
            return reply(start_response, "400 Bad Request", {"__type": "ThrottlingException", "message": "Rate exceeded (injected)"})
        return reply(start_response, "500 Internal Server Error", {"__type": "InternalFailure", "message": "injected 5xx"})

    def serve(self, environ: dict, start_response: Any, operation: Operation | None) -> Any:
        """RAM is the emulator's own (see ram.py); everything else is moto's."""
        if operation is None or operation[0] != "ram":
            return self.app(environ, start_response)
        params = json.loads(read_body(environ) or b"{}")
        # Some operations (DeleteResourceShare) take their members in the query string.
        params.update({k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()})
        account = iam_enforce.request_account(environ)
        status, body, headers = ram.serve(self.emu, operation[1], account, operation[2], params)
        return reply(start_response, f"{status} {'OK' if status == 200 else 'Error'}", body, headers)

    def count(self, environ: dict) -> Operation | None:
        """Counts API requests (JSON protocols by X-Amz-Target, REST ones by path) by service,
        operation and signing region."""
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not scope:
            return None
        region, service = scope.groups()
        if target:
            operation = target.rsplit(".", 1)[-1]
        elif service in REST_SERVICES:
            named = api_contract.rest_operation(CONTRACT_SERVICES[service], environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""))
            if named is None:
                return None
            operation = named
        else:
            return None
        with self.emu.lock:
            by_region = self.emu.requests.setdefault(f"{service}:{operation}", {})
            by_region[region] = by_region.get(region, 0) + 1
        return service, operation, region

    def check_contract(self, environ: dict, operation: Operation | None) -> dict | None:
        """The ValidationException body for a request outside the API contract, else None."""
        service = CONTRACT_SERVICES.get(operation[0]) if operation else None
        if service is None or operation is None or not self.emu.config["enforceContract"]:
            return None
        body = read_body(environ)
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            found = ["the body is not JSON"]
        else:
            found = api_contract.violations(service, operation[1], params) if isinstance(params, dict) else ["the body is not a JSON object"]
        if not found:
            return None
        with self.emu.lock:
            self.emu.violations.append({"service": service, "operation": operation[1], "violations": [str(v) for v in found]})
        return api_contract.error_response(found)

    def check_iam(self, environ: dict) -> tuple[str, dict, dict[str, str]] | None:
        """IAM's answer when it denies the request (enforceIam), else None."""
        if not self.emu.config["enforceIam"]:
            return None
        return iam_enforce.check_request(environ, read_body(environ), iam_enforce.request_account(environ), self.emu.shares)

    # ----- the control API -------------------------------------------------------------------

    def control(self, path: str, environ: dict, start_response: Any) -> Any:
        post = environ["REQUEST_METHOD"] == "POST"
        route: Callable[[dict, bool], tuple[str, Any]] | None = {
            "/_ext/config": self.config,
            "/_ext/violations": self.violations,
            "/_ext/denials": self.denials,
            "/_ext/authorizations": self.denials,
            "/_ext/faults": lambda *_: ("200 OK", dict(self.emu.faults_injected)),
            "/_ext/calls": lambda *_: ("200 OK", {"copyBackupToRegion": list(self.emu.calls)}),
            "/_ext/backups": self.backups,
            "/_ext/seed": self.seed,
            "/_ext/requests": self.requests,
        }.get(path)
        if route is None:
            return reply(start_response, "404 Not Found", {"error": path})
        body = json.loads(read_body(environ) or b"{}") if post else {}
        status, answer = route({**body, "_path": path}, post)
        return reply(start_response, status, answer)

    def config(self, body: dict, post: bool) -> tuple[str, Any]:
        if post:
            body.pop("_path")
            unknown = self.emu.configure(body)
            if unknown:
                return "400 Bad Request", {"error": f"unknown switches {unknown}"}
        with self.emu.lock:
            return "200 OK", dict(self.emu.config)

    def violations(self, _body: dict, post: bool) -> tuple[str, Any]:
        with self.emu.lock:
            found = list(self.emu.violations)
            if post:
                self.emu.violations.clear()
        return "200 OK", found

    def denials(self, body: dict, post: bool) -> tuple[str, Any]:
        # POST answers what was recorded, then clears it.
        with self.emu.lock:
            found = list(iam_enforce.DENIALS) if body["_path"] == "/_ext/denials" else sorted(iam_enforce.ALLOWED)
            if post:
                iam_enforce.DENIALS.clear()
                iam_enforce.ALLOWED.clear()
        return "200 OK", found

    def backups(self, spec: dict, post: bool) -> tuple[str, Any]:
        if not post:
            return "405 Method Not Allowed", {"error": "POST a {clusterId, ageHours}"}
        try:
            return "200 OK", fleet.make_backup(spec.get("region", "us-east-1"), spec["clusterId"], float(spec.get("ageHours", 0)))
        except (KeyError, ValueError) as e:
            return "400 Bad Request", {"error": str(e)}

    def seed(self, spec: dict, post: bool) -> tuple[str, Any]:
        if not post:
            return "405 Method Not Allowed", {"error": "POST a {clusters, backups, everyHours, copyTo}"}
        made = fleet.seed(
            spec.get("region", "us-east-1"),
            int(spec["clusters"]),
            int(spec["backups"]),
            float(spec.get("everyHours", 24)),
            list(spec.get("copyTo", [])),
        )
        return "200 OK", made

    def requests(self, _body: dict, post: bool) -> tuple[str, Any]:
        with self.emu.lock:
            if post:
                self.emu.requests.clear()
                self.emu.describe_backups.clear()
            return "200 OK", {"counts": self.emu.requests, "describeBackups": self.emu.describe_backups}


def read_body(environ: dict) -> bytes:
    """The request body, put back for whoever reads it next (moto)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def reply(start_response: Any, status: str, body: Any, headers: dict[str, str] | None = None) -> list[bytes]:
    """A JSON answer, or a text one (STS's XML) when `body` is a string."""
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **(headers or {})}
    start_response(status, [*headers.items(), ("Content-Length", str(len(data)))])
    return [data]
