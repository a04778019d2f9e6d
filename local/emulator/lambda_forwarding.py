"""Lambda invokes of our functions, forwarded to the `cargo lambda watch` serving each."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from typing import Any


def install(routes: dict[str, str], concurrency: int) -> None:
    """Invokes of these function names (or ARNs) go to `cargo lambda watch`: `routes` maps a
    function name to ``http://host:port/<binary>``, the watcher serving that function (each
    function has its own, with its own environment and role). At most `concurrency` invokes per
    function at a time (the instances it runs): cargo-lambda 1.9.2 stops answering when a
    hundred invokes wait on it at once; the others wait here, as Lambda's own queue would."""
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda_simple.models import LambdaSimpleBackend

    slots = {name: threading.BoundedSemaphore(concurrency) for name in routes}

    def forward(name: str, body: Any, response_headers: Any) -> bytes:
        with slots[name]:
            return send(name, body, response_headers)

    def send(name: str, body: Any, response_headers: Any) -> bytes:
        data = body if isinstance(body, bytes) else (body or "{}").encode()
        server, binary = routes[name].rsplit("/", 1)
        payload, error, status = post_invocation(server, binary, data, timeout=300)
        if error or status:
            response_headers["x-amz-function-error"] = error or "Unhandled"
        return payload

    # Without Docker moto serves Lambda from LambdaSimpleBackend, which echoes the payload.
    for backend_class in (LambdaBackend, LambdaSimpleBackend):
        original = backend_class.invoke

        def invoke(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any, _original: Any = original) -> Any:
            name = function_name.split(":")[6] if function_name.startswith("arn:") else function_name
            if name not in routes:
                return _original(self, function_name, qualifier, body, headers, response_headers)
            return forward(name, body, response_headers)

        backend_class.invoke = invoke


def post_invocation(server: str, binary: str, body: bytes, timeout: float) -> tuple[bytes, str | None, int | None]:
    """One invoke through the Lambda Invoke API `cargo lambda watch` serves: the payload, the
    function's error type (X-Amz-Function-Error) and the HTTP error status, if any."""
    request = urllib.request.Request(
        f"{server}/2015-03-31/functions/{binary}/invocations",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read(), response.headers.get("X-Amz-Function-Error"), None
    except urllib.error.HTTPError as e:
        return e.read(), e.headers.get("X-Amz-Function-Error"), e.code
