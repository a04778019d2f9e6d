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
        request = urllib.request.Request(
            f"{server}/2015-03-31/functions/{binary}/invocations",
            data=data,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                payload = response.read()
                error = response.headers.get("X-Amz-Function-Error")
        except urllib.error.HTTPError as e:
            payload = e.read()
            error = e.headers.get("X-Amz-Function-Error") or "Unhandled"
        if error:
            response_headers["x-amz-function-error"] = error
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
