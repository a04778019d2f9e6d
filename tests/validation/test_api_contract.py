"""local/api_contract.py: strict request validation against botocore's service models."""

import pytest

import api_contract
from api_contract import error_response, violations

BACKUP_ID = "backup-abcdefghijk"
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:copy-tracker"


def only(found: list[str]) -> str:
    assert len(found) == 1, found
    return found[0]


def copy_request(**overrides) -> dict:
    return {"BackupId": BACKUP_ID, "DestinationRegion": "us-west-2", **overrides}


# ------------------------------------------------------------ cloudhsmv2


def test_valid_describe_backups_passes():
    params = {
        "Filters": {"sourceBackupIds": [BACKUP_ID, "backup-bcdefghijkl"], "states": ["READY"]},
        "MaxResults": 50,
        "SortAscending": False,
    }
    assert violations("cloudhsmv2", "DescribeBackups", params) == []


def test_describe_backups_max_results_above_50_fails():
    found = only(violations("cloudhsmv2", "DescribeBackups", {"MaxResults": 51}))
    assert found.startswith("MaxResults: ")
    assert "51 is above the maximum 50" in found


def test_describe_backups_max_results_below_1_fails():
    found = only(violations("cloudhsmv2", "DescribeBackups", {"MaxResults": 0}))
    assert found == "MaxResults: 0 is below the minimum 1"


def test_describe_clusters_max_results_is_capped_at_25():
    found = only(violations("cloudhsmv2", "DescribeClusters", {"MaxResults": 50}))
    assert found == "MaxResults: 50 is above the maximum 25"
    assert violations("cloudhsmv2", "DescribeClusters", {"MaxResults": 25}) == []


def test_valid_copy_backup_to_region_passes():
    tags = [{"Key": "copied-by", "Value": "lambda"}, {"Key": "env:stage/é", "Value": ""}]
    assert violations("cloudhsmv2", "CopyBackupToRegion", copy_request(TagList=tags)) == []


def test_copy_backup_bad_backup_id_fails():
    found = only(violations("cloudhsmv2", "CopyBackupToRegion", copy_request(BackupId="bkp-123")))
    assert found.startswith("BackupId: 'bkp-123' does not match pattern backup-")


def test_copy_backup_bad_destination_region_fails():
    found = only(violations("cloudhsmv2", "CopyBackupToRegion", copy_request(DestinationRegion="mars-central")))
    assert found.startswith("DestinationRegion: 'mars-central' does not match pattern")


def test_copy_backup_too_many_tags_fails():
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    found = only(violations("cloudhsmv2", "CopyBackupToRegion", copy_request(TagList=tags)))
    assert found == "TagList: size 51 is above the maximum 50"


def test_copy_backup_empty_tag_list_fails():
    found = only(violations("cloudhsmv2", "CopyBackupToRegion", copy_request(TagList=[])))
    assert found == "TagList: size 0 is below the minimum 1"


def test_copy_backup_tag_key_with_forbidden_character_fails():
    tags = [{"Key": "ok", "Value": "v"}, {"Key": "bad*key", "Value": "v"}]
    found = only(violations("cloudhsmv2", "CopyBackupToRegion", copy_request(TagList=tags)))
    assert found.startswith("TagList[1].Key: 'bad*key' does not match pattern")


def test_copy_backup_tag_missing_value_fails():
    found = only(violations("cloudhsmv2", "CopyBackupToRegion", copy_request(TagList=[{"Key": "k"}])))
    assert found == "TagList[0].Value: is required (Tag)"


def test_copy_backup_missing_destination_region_fails():
    found = only(violations("cloudhsmv2", "CopyBackupToRegion", {"BackupId": BACKUP_ID}))
    assert found.startswith("DestinationRegion: is required")


def test_json_null_counts_as_missing():
    found = only(violations("cloudhsmv2", "CopyBackupToRegion", copy_request(DestinationRegion=None)))
    assert found.startswith("DestinationRegion: is required")


def test_unknown_member_fails():
    found = only(violations("cloudhsmv2", "DescribeBackups", {"MaxResult": 5}))
    assert found == "MaxResult: is not a member of DescribeBackupsRequest"


def test_wrong_types_fail():
    found = violations("cloudhsmv2", "DescribeBackups", {"MaxResults": "50", "SortAscending": "false", "Filters": []})
    assert len(found) == 3, found
    assert any(v.startswith("MaxResults: expected integer") for v in found)
    assert any(v.startswith("SortAscending: expected boolean") for v in found)
    assert any(v.startswith("Filters: expected map") for v in found)


def test_bool_is_not_an_integer():
    found = only(violations("cloudhsmv2", "DescribeBackups", {"MaxResults": True}))
    assert found.startswith("MaxResults: expected integer")


def test_filters_value_element_type_is_checked():
    found = only(violations("cloudhsmv2", "DescribeBackups", {"Filters": {"sourceBackupIds": [BACKUP_ID, 7]}}))
    assert found.startswith("Filters.sourceBackupIds[1]: expected string")


def test_filters_map_key_is_validated_against_its_shape():
    # The key shape (Field) has a pattern but no length bound in this model;
    # the pattern is unanchored, so only a key with no allowed character fails.
    found = only(violations("cloudhsmv2", "DescribeBackups", {"Filters": {"***": ["x"]}}))
    assert found.startswith("Filters key '***': '***' does not match pattern [a-zA-Z0-9_-]+")


def test_filters_map_size_is_bounded():
    filters = {f"f{i}": ["x"] for i in range(31)}
    found = only(violations("cloudhsmv2", "DescribeBackups", {"Filters": filters}))
    assert found == "Filters: size 31 is above the maximum 30"


# ---------------------------------------------------- stepfunctions, events


def test_start_execution_valid_name_passes():
    params = {"stateMachineArn": STATE_MACHINE_ARN, "name": "copy-" + "a" * 75, "input": "{}"}
    assert violations("stepfunctions", "StartExecution", params) == []


def test_start_execution_name_of_81_chars_fails():
    params = {"stateMachineArn": STATE_MACHINE_ARN, "name": "a" * 81}
    found = only(violations("stepfunctions", "StartExecution", params))
    assert found == "name: length 81 is above the maximum 80"


def test_list_executions_status_filter_enum_fails():
    params = {"stateMachineArn": STATE_MACHINE_ARN, "statusFilter": "BOGUS"}
    found = only(violations("stepfunctions", "ListExecutions", params))
    assert found.startswith("statusFilter: 'BOGUS' is not one of [")
    assert "RUNNING" in found
    assert violations("stepfunctions", "ListExecutions", {**params, "statusFilter": "RUNNING"}) == []


def test_put_events_with_11_entries_fails():
    entry = {"Source": "cloudhsm.copy", "DetailType": "BackupCopied", "Detail": "{}"}
    found = only(violations("events", "PutEvents", {"Entries": [entry] * 11}))
    assert found == "Entries: size 11 is above the maximum 10"
    assert violations("events", "PutEvents", {"Entries": [entry] * 10}) == []


def test_sensitive_values_are_not_echoed():
    params = {"stateMachineArn": STATE_MACHINE_ARN, "input": 5}
    found = only(violations("stepfunctions", "StartExecution", params))
    assert found.startswith("input: expected string")
    assert "'***'" in error_response([found])["message"]


# ----------------------------------------------------------- edge cases


def test_unknown_operation():
    found = only(violations("cloudhsmv2", "DescribeBackupz", {}))
    assert "unknown operation 'DescribeBackupz'" in found


def test_unknown_service():
    found = only(violations("cloudhsmv3", "DescribeBackups", {}))
    assert "unknown service 'cloudhsmv3'" in found


def test_rest_protocol_skips_non_body_members():
    # rbin is rest-json: ResourceArn travels in the URI, not the body.
    assert violations("rbin", "ListTagsForResource", {}) == []
    found = only(violations("rbin", "ListTagsForResource", {"ResourceArn": "x"}))
    assert found.startswith("ResourceArn: is not a member")


def test_uncompilable_pattern_is_skipped_not_raised():
    # rbin's RuleArn stacks two quantifiers ({11}{0,1011}), which regex rejects.
    src = r"^arn:\S+:rbin:[a-z\-0-9]{0,63}:[0-9]{12}:rule/[0-9a-zA-Z]{11}{0,1011}$"
    assert api_contract._compile(src) is None
    assert src in api_contract.skipped_patterns()


@pytest.mark.parametrize(
    ("java", "accepted", "rejected"),
    [
        (r"^\w+$", "abc_1", "é"),  # Java's \w is ASCII-only
        (r"^\p{Punct}+$", "$+<=>^`|~", "«"),  # Java's POSIX classes are ASCII-only
        (r"^[\p{Print}&&[^|:/]]+$", "ab c", "a|b"),  # class intersection
        (r"^[\u0020-\uD7FF\uD800\uDC00-\uDBFF\uDFFF]+$", "a\U0001F600", "\x01"),  # surrogate pair range
        (r"^(\p{LD}| )+$", "é 1", "-"),  # Java-only category
        (r"^[a-z|~]+$", "a|~", "-"),  # '|' and '~' are literals in Java classes
    ],
)
def test_java_pattern_dialect_is_translated(java, accepted, rejected):
    compiled = api_contract._compile(java)
    assert compiled is not None
    assert compiled.search(accepted)
    assert not compiled.search(rejected)


# -------------------------------------------------------- error_response


def test_error_response_single_violation_mimics_aws():
    body = error_response(violations("cloudhsmv2", "DescribeClusters", {"MaxResults": 50}))
    assert body == {
        "__type": "ValidationException",
        "message": "1 validation error detected: Value '50' at 'MaxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 25",
    }


def test_error_response_lists_every_violation():
    found = violations("cloudhsmv2", "CopyBackupToRegion", {"BackupId": "nope", "TagList": []})
    body = error_response(found)
    assert body["__type"] == "ValidationException"
    message = body["message"]
    assert message.startswith("3 validation errors detected: ")
    assert "Value null at 'DestinationRegion' failed to satisfy constraint: Member must not be null" in message
    assert "at 'BackupId' failed to satisfy constraint: Member must satisfy regular expression pattern" in message
    assert "at 'TagList' failed to satisfy constraint: Member must have length greater than or equal to 1" in message
    assert message.count("; ") == 2


def test_error_response_accepts_plain_strings():
    assert error_response(["x: bad"])["message"] == "1 validation error detected: x: bad"
