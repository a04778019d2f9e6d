"""Each test gets a fresh local stack (moto does not stop running executions on reset). After
each test, the stack must have seen no request outside the API contract (botocore's model) and
no request IAM denied (each function runs as the role the template gives it): a test that
means to be denied reads and clears the denials itself."""

from pathlib import Path

import pytest

from stack import Stack

ROOT = Path(__file__).resolve().parents[2]


def assert_within_contract(stack):
    violations = stack.control("GET", "violations")
    assert violations == [], f"requests outside the API contract: {violations}"
    denials = stack.control("GET", "denials")
    assert denials == [], f"requests IAM denied: {denials}"


@pytest.fixture
def stack(tmp_path):
    with Stack.started(ROOT, log_dir=tmp_path / "logs") as s:
        yield s
        assert_within_contract(s)


@pytest.fixture
def make_stack(tmp_path):
    """For tests that need non-default settings: make_stack(copy_delay=..., policy={...})."""
    stacks = []

    def make(**kwargs):
        s = Stack(root=ROOT, log_dir=tmp_path / f"logs-{len(stacks)}", **kwargs)
        stacks.append(s)
        s.start()
        return s

    yield make
    try:
        for s in stacks:
            assert_within_contract(s)
    finally:
        for s in stacks:
            s.stop()
