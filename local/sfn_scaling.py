"""Makes moto 5.2.5's Step Functions engine run thousands of executions at once.

Why it stalled (about 200 executions in flight, ~800 idle threads, no progress for minutes):

* Cache stampede. Lambda Invoke is a REST request: the first ones make moto load botocore's
  service model and build a routing table (moto/core/utils.py get_service_model,
  moto/core/routing.py get_service_router). ``functools.cache`` does not stop concurrent first
  callers, so every execution reaching its first Task together built its own, each slowed by
  all the others: a CPU-minute with nothing finishing.
* Every Task call made a new boto3 client (moto/stepfunctions/parser/asl/utils/boto_client.py)
  and sent the request over HTTP back to this same server: one more socket and server thread
  per call, all funnelled through the dispatcher's global lock
  (moto/moto_server/werkzeug_app.py get_application), which matched the host against every
  backend's URL patterns while holding it.
* Every JSONPath was compiled with a fresh PLY parser, and every execution re-parsed the whole
  definition with ANTLR.

``install(wsgi_app)`` fixes each in-process. The engine's calls still go through ``wsgi_app``
(the local stack's middleware included), so counting, fault injection and the API-contract check
see them as before; only the socket is gone. ASL semantics are untouched (the same components
evaluate the same way; Retry, Catch, Wait and Choice were compared state for state).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import sys
import threading
from typing import Any, Callable
from urllib.parse import urlsplit


def install(wsgi_app: Callable) -> None:
    _single_flight_models()
    _in_process_clients(wsgi_app)
    _fast_dispatch()
    _cached_parsing()


def _single_flight(fn: Callable) -> Callable:
    """``fn`` cached by arguments, computed once even when many threads ask at the same time."""
    results: dict[tuple, Any] = {}
    lock = threading.Lock()

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        try:
            return results[args]
        except KeyError:
            pass
        with lock:
            if args not in results:
                results[args] = fn(*args)
            return results[args]

    return wrapper


def _rebind(name: str, original: Any, replacement: Any, prefix: str = "moto") -> None:
    """Replaces `original` wherever a module under `prefix` imported it by name."""
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith(prefix) and getattr(module, name, None) is original:
            setattr(module, name, replacement)


def _single_flight_models() -> None:
    import moto.core.routing as routing
    import moto.core.utils as utils

    for name, source in (("get_service_model", utils), ("get_pagination_model", utils), ("get_service_router", routing)):
        original = getattr(source, name)
        _rebind(name, original, _single_flight(original))
    lock = threading.RLock()
    original_get_router = routing.ServiceOperationRouter._get_router

    def get_router(self: Any, protocol: Any) -> Any:
        router = self._routers.get(protocol)
        if router is None:
            with lock:
                router = original_get_router(self, protocol)
        return router

    routing.ServiceOperationRouter._get_router = get_router


def _in_process_clients(wsgi_app: Callable) -> None:
    """One client per (region, service) for the engine, whose requests are handed to `wsgi_app`
    instead of a socket."""
    import boto3
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    import moto.stepfunctions.parser as parser
    from moto.core.botocore_stubber import MockRawResponse
    from moto.stepfunctions.parser.asl.utils import boto_client

    def dispatch(request: Any, **_: Any) -> AWSResponse:
        url = urlsplit(request.url)
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()]
        environ = EnvironBuilder(
            method=request.method,
            base_url=f"{url.scheme}://{url.netloc}",
            path=url.path,
            query_string=url.query,
            headers=headers,
            data=body or b"",
        ).get_environ()
        environ["REMOTE_ADDR"] = "127.0.0.1"
        app_iter, status, response_headers = run_wsgi_app(wsgi_app, environ, buffered=True)
        try:
            data = b"".join(app_iter)
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()
        return AWSResponse(request.url, int(status.split(" ", 1)[0]), dict(response_headers), MockRawResponse(data))

    session = boto3.session.Session()
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # Signed as the execution's role (`ak.<role name>`), so IAM enforcement knows which state
        # machine a request comes from when several run at once.
        role_arn = getattr(state_credentials, "role_arn", None) or ""
        key = (region, service, role_arn)
        with lock:
            if key not in clients:
                client = session.client(
                    service_name=service,
                    region_name=region,
                    endpoint_url=f"http://localhost:{boto_client.moto_server_port()}",
                    aws_access_key_id=f"ak.{role_arn.rsplit('/', 1)[-1]}" if role_arn else "ak",
                    aws_secret_access_key="sk",
                    # As moto's own: the engine validates nothing and retries nothing itself.
                    config=Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1}),
                )
                client.meta.events.register_first("before-send", dispatch)
                clients[key] = client
            return clients[key]

    # Import every engine module first, so each one that imported boto_client_for is rebound.
    for info in pkgutil.walk_packages(parser.__path__, parser.__name__ + "."):
        try:
            importlib.import_module(info.name)
        except Exception:  # noqa: BLE001 - modules for integrations whose extras are absent
            continue
    _rebind("boto_client_for", boto_client.boto_client_for, client_for, prefix=parser.__name__)


def _fast_dispatch() -> None:
    """Memoises the host -> backend lookup and takes the dispatcher's lock only to create an app."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original_for_host = DomainDispatcherApplication.get_backend_for_host
    memo: dict[Any, Any] = {}

    def backend_for_host(self: Any, host: Any) -> Any:
        if host not in memo:
            memo[host] = original_for_host(self, host)
        return memo[host]

    def get_application(self: Any, environ: dict) -> Any:
        path = environ.get("PATH_INFO", "")
        if isinstance(path, bytes):
            path = path.decode("utf-8")
        if path.startswith("/moto-api") or path == "/favicon.ico":
            host = "moto_api"
        elif path.startswith("/latest/meta-data/") or path.startswith("/latest/api/"):
            host = "instance_metadata"
        else:
            host = None
        backend = self.get_backend_for_host(host)
        if not backend:
            host = self.infer_service_region_host(environ, path) or "s3.us-east-1.amazonaws.com"
            backend = self.get_backend_for_host(host)
        app = self.app_instances.get(backend)
        if app is None:
            with self.lock:
                app = self.app_instances.get(backend)
                if app is None:
                    app = self.app_instances[backend] = self.create_app(backend)
        return app

    DomainDispatcherApplication.get_backend_for_host = backend_for_host
    DomainDispatcherApplication.get_application = get_application


def _cached_parsing() -> None:
    """JSONPath expressions and state machine programs are immutable once parsed: parse once."""
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    json_path.parse = functools.lru_cache(maxsize=4096)(json_path.parse)
    result_path.parse = functools.lru_cache(maxsize=4096)(result_path.parse)

    original = ExecutionWorker._get_evaluation_entrypoint
    programs: dict[str, Any] = {}
    lock = threading.Lock()

    def entrypoint(self: Any) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        with lock:
            if definition not in programs:
                programs[definition] = original(self)
            return programs[definition]

    ExecutionWorker._get_evaluation_entrypoint = entrypoint
