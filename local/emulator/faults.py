"""Throttling and faults, injected on request: rate limits as token buckets (``rateLimits``) and
seeded random faults (``faults``), per service and operation. ``GET /_ext/faults`` counts them."""

from __future__ import annotations

import time

from .state import Emulator

Operation = tuple[str, str, str]  # service (signing name), operation, region


def rate_limited(emu: Emulator, operation: Operation | None) -> bool:
    """Takes a token from every bucket the request falls in; False when all had one."""
    if operation is None:
        return False
    service, name, region = operation
    now = time.monotonic()
    with emu.lock:
        for i, rule in enumerate(emu.config["rateLimits"]):
            if rule.get("service", "*") not in ("*", service) or rule.get("operation", "*") not in ("*", name):
                continue
            rate, burst = float(rule["perSecond"]), float(rule.get("burst", rule["perSecond"]))
            bucket = emu.buckets.setdefault((i, region, rule.get("operation", "*")), [burst, now])
            bucket[0] = min(burst, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
            if bucket[0] < 1:
                key = f"{service}:{name}:rateLimit"
                emu.faults_injected[key] = emu.faults_injected.get(key, 0) + 1
                return True
            bucket[0] -= 1
    return False



def draw_fault(emu: Emulator, operation: Operation | None) -> tuple[str, float] | None:
    """The fault to inject into this request, if a rule matches and the draw says so."""
    if operation is None:
        return None
    service, name, _region = operation
    with emu.lock:
        for rule in emu.config["faults"]:
            if rule.get("service", "*") not in ("*", service) or rule.get("operation", "*") not in ("*", name):
                continue
            if emu.fault_random.random() < float(rule.get("rate", 1.0)):
                kind = rule.get("kind", "5xx")
                if isinstance(kind, list):
                    kind = emu.fault_random.choice(kind)
                key = f"{service}:{name}:{kind}"
                emu.faults_injected[key] = emu.faults_injected.get(key, 0) + 1
                return kind, float(rule.get("delaySeconds", 30))
    return None
