"""The failure mail cannot be forged: the rule, as deployed, matches only this account's and
region's "Failed" events from this state machine's executions (the pattern matched by moto's
EventBridge matcher, which the local stack's rules use), and no text from an event shapes the
console link."""

import copy
import json
import re
from pathlib import Path

import pytest
from moto.events.models import EventPattern

from deployed import Deployment

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "us-east-1"
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:cloudhsm-backup-copy-copy-tracker:backup-4kuraxsqetz-to-us-west-2-0"

GENUINE = {
    "version": "0", "id": "1", "detail-type": "CloudHSM Backup Copy Failed", "source": "cloudhsm-backup-copy",
    "account": ACCOUNT, "time": "2026-11-26T04:00:00Z", "region": REGION, "resources": [],
    "detail": {"sourceBackupId": "backup-4kuraxsqetz", "sourceClusterId": "cluster-kzlczlspnho", "sourceRegion": REGION,
               "destinationRegion": "us-west-2", "attempts": 3, "executionArn": EXECUTION,
               "failure": {"reason": "DEADLINE", "error": "", "cause": ""}},
}


def forged(**changes) -> dict:
    event = copy.deepcopy(GENUINE)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = event
        for p in parents:
            node = node[p]
        node[last] = value
    return event


@pytest.fixture(scope="module")
def rule() -> dict:
    d = Deployment.load(ROOT, {"DestinationRegions": "us-west-2", "NotificationEmail": "ops@example.com"}, REGION, ACCOUNT)
    return d.resources("AWS::Events::Rule")["FailureNotificationRule"]["Properties"]


@pytest.mark.parametrize(
    "event,mailed",
    [
        (GENUINE, True),
        (forged(account="999999999999"), False),
        (forged(region="eu-central-1"), False),
        (forged(source="attacker"), False),
        (forged(**{"detail-type": "CloudHSM Backup Copy Succeeded"}), False),
        # Another state machine's execution, or a made-up ARN with our name inside it.
        (forged(detail__executionArn=EXECUTION.replace("copy-tracker", "other")), False),
        (forged(detail__executionArn="https://evil.example/" + EXECUTION), False),
        (forged(detail__executionArn=EXECUTION.replace(ACCOUNT, "999999999999")), False),
        (forged(detail__executionArn=None), False),
    ],
    ids=["genuine", "other-account", "other-region", "other-source", "other-detail-type", "other-machine", "prefixed-url", "other-account-arn", "no-arn"],
)
def test_only_our_failures_reach_the_topic(rule, event, mailed):
    assert EventPattern.load(json.dumps(rule["EventPattern"])).matches_event(event) is mailed


def test_the_console_link_comes_from_the_stack_not_the_event(rule):
    transformer = rule["Targets"][0]["InputTransformer"]
    event = forged(detail__sourceRegion="evil.example/x?", detail__destinationRegion="us-west-2")
    values = {}
    for name, path in transformer["InputPathsMap"].items():
        node = event
        for part in path.removeprefix("$.").split("."):
            node = node.get(part) if isinstance(node, dict) else None
        values[name] = node if isinstance(node, str) else json.dumps(node)
    message = re.sub(r"<(\w+)>", lambda m: str(values.get(m.group(1), m.group(0))), transformer["InputTemplate"])
    link = re.search(r"https://\S+", message).group(0)
    assert link.startswith(f"https://{REGION}.console.aws.amazon.com/states/home?region={REGION}#/v2/executions/details/arn:aws:states:")
    assert "evil.example" not in message
    # Only the execution ARN reaches the link, and the rule admits only ours (above).
    assert "sourceRegion" not in json.dumps(transformer["InputPathsMap"])
