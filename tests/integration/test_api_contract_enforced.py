"""The local stack is at least as strict as AWS's published model: a request outside it gets
AWS's ValidationException (and is recorded, which fails the test that sent it)."""

import botocore.exceptions
import pytest


def test_requests_outside_the_model_are_refused_and_recorded(stack):
    hsm = stack.hsm()
    refused = []
    for call in (
        lambda: hsm.describe_clusters(MaxResults=50),  # ClustersMaxSize is 1..25
        lambda: hsm.describe_backups(MaxResults=51),  # BackupsMaxSize is 1..50
        lambda: hsm.copy_backup_to_region(BackupId="bkp-1", DestinationRegion="mars-central"),
        lambda: stack.client("stepfunctions").start_execution(stateMachineArn=stack.state_machine_arn, name="n" * 81),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as refusal:
            call()
        refused.append(refusal.value.response["Error"]["Code"])
    hsm.describe_clusters(MaxResults=25)
    hsm.describe_backups(MaxResults=50, SortAscending=False, Filters={"states": ["READY"]})
    recorded = stack.control("GET", "violations")
    print(f"contract: refused={refused} recorded={[(v['operation'], v['violations']) for v in recorded]}")
    assert refused == ["ValidationException"] * 4
    assert [v["operation"] for v in recorded] == ["DescribeClusters", "DescribeBackups", "CopyBackupToRegion", "StartExecution"]
    assert "MaxResults" in recorded[0]["violations"][0]
    stack.control("POST", "violations")  # seen and checked: the fixture's own check starts clean
