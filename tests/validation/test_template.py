"""The SAM template and the state machine definition: linted, validated, and consistent."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.decode import decode

from deployed import Deployment
from stack import render_definition

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
TEMPLATE = ROOT / "template.yaml"
ASL = ROOT / "statemachine" / "copy-tracker.asl.json"
# Each state machine: its resource and its definition's file name.
STATE_MACHINES = {"CopyTracker": "copy-tracker", "RestoreDrillStateMachine": "restore-drill"}
ENV = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"), "SAM_CLI_TELEMETRY": "0"}


def run(argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=timeout)


def template() -> dict:
    tpl, matches = decode(str(TEMPLATE))
    assert not matches, matches
    return tpl


def test_cfn_lint_passes():
    result = run([str(Path(sys.executable).parent / "cfn-lint"), str(TEMPLATE)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("flags", [[], ["--lint"]], ids=["translate", "lint"])
def test_sam_validate_passes(flags):
    result = run([str(TOOLS / "sam" / "bin" / "sam"), "validate", "-t", str(TEMPLATE), *flags])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.mark.parametrize("machine", STATE_MACHINES)
def test_substitutions_match_the_definition_placeholders(machine):
    substitutions = template()["Resources"][machine]["Properties"]["DefinitionSubstitutions"]
    asl = ROOT / "statemachine" / f"{STATE_MACHINES[machine]}.asl.json"
    placeholders = set(re.findall(r"\$\{(\w+)\}", asl.read_text()))
    assert placeholders == set(substitutions), (placeholders ^ set(substitutions))


def deployed_like_definition(machine: str = "CopyTracker") -> str:
    """The ASL with every placeholder replaced by a value of the shape CloudFormation puts there."""
    tpl = template()
    substitutions = tpl["Resources"][machine]["Properties"]["DefinitionSubstitutions"]
    params = tpl["Parameters"]
    values = {}
    for key, value in substitutions.items():
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            values[key] = f"arn:aws:lambda:us-east-1:123456789012:function:stack-{key}"
        elif isinstance(value, dict) and "Ref" in value:
            values[key] = str(params[value["Ref"]]["Default"])
        else:
            values[key] = str(value)
    return render_definition(ROOT, values, STATE_MACHINES[machine])


def asl_validate(path: Path) -> subprocess.CompletedProcess:
    return run(["node", str(TOOLS / "node" / "node_modules" / "asl-validator" / "dist" / "bin" / "asl-validator.js"), "--json-path", str(path)])


@pytest.mark.parametrize("machine", STATE_MACHINES)
def test_asl_validator_accepts_the_definition(tmp_path, machine):
    path = tmp_path / "definition.json"
    path.write_text(deployed_like_definition(machine))
    result = asl_validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_asl_validator_catches_a_broken_definition(tmp_path):
    # Guards against a validator that passes everything (wrong path, wrong flag).
    definition = json.loads(deployed_like_definition())
    definition["States"]["Route"]["Default"] = "NoSuchState"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(definition))
    result = asl_validate(path)
    assert result.returncode != 0
    assert "NoSuchState" in result.stdout + result.stderr


# Actions that the service authorization reference lists without resource types: "*" is the
# only possible Resource for them. Everything else must name its resources.
NO_RESOURCE_LEVEL = {
    "cloudhsm:DescribeBackups",
    "ram:CreateResourceShare",
    "ram:GetResourceShares",
    "ram:GetResourceShareAssociations",
    "cloudhsm:DescribeClusters",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
}


def deployment(**parameters: str) -> Deployment:
    return Deployment.load(ROOT, {"DestinationRegions": "us-west-2,eu-west-1", "NotificationEmail": "ops@example.com", **parameters})


def role_statements(d: Deployment) -> dict[str, list[dict]]:
    """Every inline statement of every role, as deployed."""
    return {
        name: [s for policy in role["Properties"].get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]
        for name, role in d.roles.items()
    }


def actions_of(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_iam_statements_name_actions_and_explain_every_wildcard_resource():
    text = TEMPLATE.read_text().splitlines()
    d = deployment()
    # Checked as deployed: SAM adds no role or managed policy of its own.
    assert all(not r["Properties"].get("ManagedPolicyArns") for r in d.roles.values())
    assert {f["Properties"]["Role"] for f in d.functions.values()} == {
        d.get_att(n, "Arn") for n in ("StartCopyRole", "CopyStepRole", "CheckCopyRole", "ShareCopyRole", "RestoreDrillRole")
    }
    for name, statements in role_statements(d).items():
        for statement in statements:
            actions = actions_of(statement)
            assert all("*" not in a for a in actions), f"{name}: wildcard action in {actions}"
            if statement["Resource"] == "*":
                # Only actions that support no resource-level permissions may use "*".
                assert set(actions) <= NO_RESOURCE_LEVEL, f"{name}/{statement['Sid']}: {set(actions) - NO_RESOURCE_LEVEL} on *"
    # Each `Resource: "*"` in the template says why, on the line before.
    stars = [i for i, line in enumerate(text) if line.strip() == 'Resource: "*"']
    unexplained = [i + 1 for i in stars if not text[i - 1].strip().startswith("#")]
    assert stars and unexplained == [], f"template.yaml lines {unexplained}: unexplained Resource *"


def test_no_role_can_both_tag_a_backup_and_delete_one():
    for name, statements in role_statements(deployment()).items():
        actions = {a for s in statements for a in actions_of(s)}
        assert not ({"cloudhsm:DeleteBackup"} <= actions and actions & {"cloudhsm:TagResource", "cloudhsm:UntagResource"}), name
        assert not ({"cloudhsm:DeleteBackup"} <= actions and "cloudhsm:CopyBackupToRegion" in actions), name


def test_deletion_is_limited_to_our_copies_in_the_destinations():
    d = deployment(DestinationRegions="us-west-2,eu-west-1")
    deletes = [s for statements in role_statements(d).values() for s in statements if "cloudhsm:DeleteBackup" in actions_of(s)]
    assert len(deletes) == 1
    condition = deletes[0]["Condition"]["StringEquals"]
    assert condition == {
        "aws:RequestedRegion": ["us-west-2", "eu-west-1"],
        "aws:ResourceTag/cloudhsm-backup-copy:source-region": "us-east-1",
    }
    tags = (ROOT / "src" / "tags.rs").read_text()
    assert 'TAG_SOURCE_REGION: &str = "cloudhsm-backup-copy:source-region"' in tags


def test_the_restore_kits_are_written_only_under_the_path_the_function_is_given():
    d = deployment(DestinationRegions="us-west-2,eu-west-1")
    prefix = d.functions["StartCopyFunction"]["Properties"]["Environment"]["Variables"]["RESTORE_KIT_PREFIX"]
    assert prefix == "/cloudhsm-backup-copy/cloudhsm-backup-copy"
    assert d.functions["RestoreDrillFunction"]["Properties"]["Environment"]["Variables"]["RESTORE_KIT_PREFIX"] == prefix
    ssm = {
        (role, s["Sid"]): s for role, statements in role_statements(d).items() for s in statements
        if any(a.startswith("ssm:") for a in actions_of(s))
    }
    here = f"arn:aws:ssm:*:123456789012:parameter{prefix}/us-east-1"
    expected = {
        ("StartCopyRole", "KeepRestoreKits"): (["ssm:GetParameters", "ssm:PutParameter"], f"{here}/cluster-*"),
        ("StartCopyRole", "ReadDrillRecords"): (["ssm:GetParameters"], f"{here}/drills/*"),
        ("RestoreDrillRole", "KeepDrillRecords"): (["ssm:GetParameters", "ssm:PutParameter"], f"{here}/drills/*"),
    }
    assert {k: (sorted(actions_of(s)), s["Resource"]) for k, s in ssm.items()} == expected
    assert all(s["Condition"] == {"StringEquals": {"aws:RequestedRegion": ["us-west-2", "eu-west-1"]}} for s in ssm.values())
    # The names the code gives: kits by cluster id, records under drills/.
    assert 'format!("{}/{source_region}/{cluster_id}"' in (ROOT / "src" / "restore_kit.rs").read_text()
    assert '"{}/{source_region}/drills/{cluster_id}"' in (ROOT / "src" / "drill" / "record.rs").read_text()


def test_readiness_failures_are_announced_as_the_code_puts_them_and_mailed():
    code = (ROOT / "src" / "readiness.rs").read_text() + (ROOT / "src" / "aws" / "eventbridge.rs").read_text()
    detail_type = re.search(r'READINESS_FAILED_DETAIL_TYPE: &str = "([^"]+)"', code).group(1)
    source = re.search(r'EVENT_SOURCE: &str = "([^"]+)"', code).group(1)
    d = deployment()
    announce = [s for s in role_statements(d)["StartCopyRole"] if "events:PutEvents" in actions_of(s)]
    assert len(announce) == 1
    assert announce[0]["Condition"] == {"StringEquals": {"events:source": source, "events:detail-type": detail_type}}
    assert announce[0]["Resource"] == "arn:aws:events:us-east-1:123456789012:event-bus/default"
    assert not any("events:PutEvents" in actions_of(s) for r, st in role_statements(d).items() if r not in ("StartCopyRole", "CopyTrackerRole", "RestoreDrillRole") for s in st)
    rule = d.resources("AWS::Events::Rule")["ReadinessNotificationRule"]["Properties"]
    assert rule["EventPattern"] == {"account": ["123456789012"], "region": ["us-east-1"], "source": [source],
                                    "detail-type": [detail_type],
                                    "detail": {"sourceRegion": ["us-east-1"], "parameter": [{"prefix": "/cloudhsm-backup-copy/cloudhsm-backup-copy/"}]}}
    mail = rule["Targets"][0]["InputTransformer"]
    assert set(mail["InputPathsMap"].values()) <= {f"$.detail.{k}" for k in ("problem", "clusterId", "destinationRegion", "backupId", "copyMode", "clusterMode", "parameter", "error")}
    fields = set(re.findall(r"pub (\w+):", code[code.index("pub struct ReadinessFailure"):]))
    camel = {re.sub(r"_(\w)", lambda m: m.group(1).upper(), f) for f in fields}
    assert {p.removeprefix("$.detail.") for p in mail["InputPathsMap"].values()} <= camel


def test_service_trust_and_resource_policies_name_their_source():
    d = deployment()
    for name in ("StartCopyRole", "CopyStepRole", "CheckCopyRole", "RestoreDrillRole"):
        trust = d.roles[name]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust == [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
                          "Condition": {"StringEquals": {"aws:SourceAccount": d.account}}}], name
    tracker = d.roles["CopyTrackerRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert tracker["Principal"] == {"Service": "states.amazonaws.com"}
    assert tracker["Condition"]["StringEquals"]["aws:SourceAccount"] == d.account
    assert tracker["Condition"]["ArnLike"]["aws:SourceArn"] == d.ref("CopyTracker")
    invoke = next(s for s in role_statements(d)["CopyTrackerRole"] if s["Sid"] == "InvokeSteps")
    assert sorted(invoke["Resource"]) == sorted(d.get_att(f, "Arn") for f in ("CopyStepFunction", "CheckCopyFunction", "ShareCopyFunction"))
    queue = d.resources("AWS::SQS::QueuePolicy")["StartCopyDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    topic = d.resources("AWS::SNS::TopicPolicy")["NotificationTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    for statements in (queue, topic):
        for s in statements:
            if s["Effect"] == "Allow":
                assert "aws:SourceArn" in s["Condition"].get("ArnEquals", {}), s
            else:
                assert s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, s
        assert any(s["Effect"] == "Deny" for s in statements)
    drills = d.roles["RestoreDrillStateMachineRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert drills["Condition"]["ArnLike"]["aws:SourceArn"] == d.ref("RestoreDrillStateMachine")
    invoke = next(s for s in role_statements(d)["RestoreDrillStateMachineRole"] if s["Sid"] == "InvokeSteps")
    assert invoke["Resource"] == d.get_att("RestoreDrillFunction", "Arn")
    rules = [n for n, r in d.template["Resources"].items() if r["Type"] == "AWS::Events::Rule" and n.startswith(("StartCopyFunction", "RestoreDrillFunction"))]
    dlq_sources = next(s for s in queue if s["Effect"] == "Allow")["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sorted(dlq_sources) == sorted(d.get_att(n, "Arn") for n in rules)
    alarms = d.resources("AWS::CloudWatch::Alarm")
    alarm_sources = next(s for s in topic if s.get("Sid") == "Alarms")["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sorted(alarm_sources) == sorted(d.get_att(n, "Arn") for n in alarms)


def test_only_our_rules_may_invoke_our_functions():
    d = deployment()
    permissions = d.resources("AWS::Lambda::Permission")
    for function, count in (("StartCopyFunction", 4), ("RestoreDrillFunction", 1)):
        rules = {n for n, r in d.template["Resources"].items() if r["Type"] == "AWS::Events::Rule" and n.startswith(function)}
        granted = {n: p["Properties"] for n, p in permissions.items() if p["Properties"]["FunctionName"] == d.ref(function)}
        assert len(granted) == len(rules) == count, function
        for name, props in granted.items():
            assert props["Principal"] == "events.amazonaws.com", name
            assert props["SourceArn"] in {d.get_att(r, "Arn") for r in rules}, name
    assert len(permissions) == 5


def test_failed_events_and_logs_outlive_the_stack():
    resources = template()["Resources"]
    for name, res in resources.items():
        if res["Type"] in ("AWS::SQS::Queue", "AWS::Logs::LogGroup"):
            assert (res.get("DeletionPolicy"), res.get("UpdateReplacePolicy")) == ("Retain", "Retain"), name


def test_log_levels_never_log_whole_events():
    assert template()["Parameters"]["LogLevel"]["AllowedValues"] == ["INFO", "WARN", "ERROR"]


def test_the_event_rules_take_only_this_accounts_events_from_this_region():
    d = deployment()
    for name, rule in d.resources("AWS::Events::Rule").items():
        pattern = rule["Properties"].get("EventPattern")
        if pattern is None:
            continue  # schedules
        assert pattern["account"] == [d.account] and pattern["region"] == [d.region], name


def test_every_alarm_notifies_the_topic_when_there_is_one():
    resources = template()["Resources"]
    alarms = {n: r for n, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(alarms) == {
        "ExecutionsFailedAlarm",
        "ExecutionsTimedOutAlarm",
        "StartCopyErrorsAlarm",
        "DeadLetterAlarm",
        "FreshnessAlarm",
        "SweepSilentAlarm",
        "CopiesGivenUpAlarm",
        "RestoreReadinessAlarm",
        "RestoreDrillOverdueAlarm",
        "RestoreDrillErrorsAlarm",
    }
    for name, alarm in alarms.items():
        actions = alarm["Properties"]["AlarmActions"]
        assert actions == {"Fn::If": ["HasNotificationEmail", [{"Ref": "NotificationTopic"}], {"Ref": "AWS::NoValue"}]}, name
    assert resources["FreshnessAlarm"]["Properties"]["Threshold"] == {"Ref": "FreshnessThresholdHours"}
    assert resources["FreshnessAlarm"]["Properties"]["MetricName"] == "NewestCopyAgeHours"
    for name in ("NotificationTopic", "NotificationTopicPolicy", "FailureNotificationRule"):
        assert resources[name]["Condition"] == "HasNotificationEmail"
    target = resources["FailureNotificationRule"]["Properties"]["Targets"][0]
    assert target["Arn"] == {"Ref": "NotificationTopic"}
    message = deployment().resources("AWS::Events::Rule")["FailureNotificationRule"]["Properties"]["Targets"][0]["InputTransformer"]["InputTemplate"]
    for placeholder in ("<backup>", "<destination>", "<attempts>", "<reason>", "<execution>"):
        assert placeholder in message
    # The console link is the stack's region's; no text from the event shapes its host.
    assert "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/<execution>" in message
    assert "<source>" not in message


def test_function_settings_match_what_the_code_reads():
    # Every variable the template sets must be one the configuration code knows, and back.
    code = "".join((ROOT / "src" / name).read_text() for name in ("config.rs", "config/drill.rs", "config/scoped.rs"))
    known = set(re.findall(r'pub const ENV_\w+: &str = "(\w+)";', code)) - {"AWS_REGION"}
    resources = template()["Resources"]
    variables = {
        v
        for name in ("StartCopyFunction", "CopyStepFunction", "CheckCopyFunction", "ShareCopyFunction", "RestoreDrillFunction")
        for v in resources[name]["Properties"]["Environment"]["Variables"]
    }
    assert variables == known


def test_the_pruning_schedule_sends_what_start_copy_parses_as_a_pruning_run():
    code = (ROOT / "src" / "event" / "request.rs").read_text()
    action = re.search(r'pub const PRUNE_ACTION: &str = "(\w+)";', code).group(1)
    events = template()["Resources"]["StartCopyFunction"]["Properties"]["Events"]
    assert json.loads(events["Prune"]["Properties"]["Input"]) == {"action": action}
    # The hourly sweep gets the scheduled event itself, which never prunes.
    assert "Input" not in events["Sweep"]["Properties"]


def test_task_timeouts_outlast_the_functions_they_run():
    # Step Functions must not give up on a Lambda that is still running (the copy might land
    # after the task was declared failed), so each task allows its function's timeout and more.
    resources = template()["Resources"]
    definition = json.loads(ASL.read_text())
    for state, function in (("RequestCopy", "CopyStepFunction"), ("CheckCopy", "CheckCopyFunction"), ("ShareCopy", "ShareCopyFunction")):
        lambda_timeout = resources[function]["Properties"]["Timeout"]
        assert definition["States"][state]["TimeoutSeconds"] >= lambda_timeout + 30, state
    drill = json.loads((ROOT / "statemachine" / "restore-drill.asl.json").read_text())
    tasks = {n: st for n, st in drill["States"].items() if st["Type"] == "Task"}
    assert len(tasks) == 4
    for name, state in tasks.items():
        assert state["TimeoutSeconds"] >= resources["RestoreDrillFunction"]["Properties"]["Timeout"] + 30, name


@pytest.fixture(scope="module")
def translated(tmp_path_factory) -> Path:
    """The template as SAM translates it, where the roles and function resources exist."""
    from deployed import translate

    path = tmp_path_factory.mktemp("translated") / "template.json"
    path.write_text(json.dumps(translate(ROOT, "us-east-1", "123456789012"), indent=1))
    return path


def checkov(path: Path) -> dict:
    result = run(
        [str(TOOLS / "checkov" / "bin" / "checkov"), "-f", str(path), "--framework", "cloudformation",
         "--skip-download", "--output", "json"],
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize("which", ["source", "translated"])
def test_checkov_finds_nothing_unexplained(which, translated):
    report = checkov(TEMPLATE if which == "source" else translated)
    results = report["results"]
    failed = [(c["check_id"], c["resource"]) for c in results["failed_checks"]]
    assert failed == [], failed
    # Every skip carries its reason in the template.
    unexplained = [c["check_id"] for c in results["skipped_checks"] if len(c["check_result"].get("suppress_comment", "")) < 20]
    assert unexplained == []
    assert report["summary"]["passed"] > 0
    if which == "translated":
        # Its IAM checks ran on every role (in the untranslated template there is none).
        roles = {c["resource"] for c in results["passed_checks"] if c["resource"].startswith("AWS::IAM::Role.") and c["check_id"] == "CKV_AWS_111"}
        assert roles == {f"AWS::IAM::Role.{r}" for r in ("StartCopyRole", "CopyStepRole", "CheckCopyRole", "ShareCopyRole", "CopyTrackerRole", "RestoreDrillRole", "RestoreDrillStateMachineRole")}


def test_cfn_lint_passes_on_the_translated_template(translated):
    result = run([str(Path(sys.executable).parent / "cfn-lint"), str(translated)])
    assert result.returncode == 0, result.stdout + result.stderr


def emitted_metrics() -> dict[str, list[list[str]]]:
    """Our namespace's metrics as the code writes them: name -> the EMF dimension sets."""
    metrics = (ROOT / "src" / "metrics.rs").read_text() + (ROOT / "src" / "freshness.rs").read_text()
    names = dict(re.findall(r'pub const (\w*METRIC\w*): &str = "(\w+)";', metrics))
    region_only = [["DestinationRegion"], []]
    # Written with cluster_hours_line / freshness::emf_line; the counts with region_count_line.
    per_cluster = {"METRIC", "DRILL_AGE_METRIC"}
    found = {v: ([["ClusterId", "DestinationRegion"], []] if k in per_cluster else region_only) for k, v in names.items()}
    assert '"Dimensions": [["DestinationRegion"], []]' in metrics and '"Dimensions": [["ClusterId", "DestinationRegion"], []]' in metrics
    drill_code = (ROOT / "src" / "handlers" / "restore_drill" / "steps.rs").read_text()
    sweep_code = (ROOT / "src" / "handlers" / "start_copy" / "sweep_report.rs").read_text()
    assert all(re.search(rf"region_count_line\(\s*{m}", drill_code) for m in ("DRILLS_FAILED_METRIC", "DRILLS_SUCCEEDED_METRIC"))
    assert re.search(r"cluster_hours_line\(\s*metrics::DRILL_AGE_METRIC", sweep_code)
    return found


def dashboard_body(d: Deployment) -> dict:
    (name, dashboard), = d.resources("AWS::CloudWatch::Dashboard").items()
    assert name == "PostureDashboard"
    return json.loads(dashboard["Properties"]["DashboardBody"])


def test_the_dashboard_shows_what_the_code_emits_and_every_alarm():
    d = deployment(FreshnessThresholdHours="30")
    body = dashboard_body(d)
    emitted = emitted_metrics()
    searched = []
    for widget in body["widgets"]:
        for line in widget["properties"].get("metrics", []):
            expression = line[0].get("expression") if isinstance(line[0], dict) else None
            if expression:
                found = re.fullmatch(r"SEARCH\('\{CloudHSMBackupCopy,([\w,]+)\} MetricName=\"(\w+)\"', '(Maximum|Sum)', 3600\)", expression)
                assert found, expression
                dims, metric = found.group(1).split(","), found.group(2)
                # Counts of events add up over a period; levels and ages take the worst.
                assert (found.group(3) == "Sum") == metric.startswith("RestoreDrills"), expression
                assert metric in emitted and dims in emitted[metric], (metric, dims)
                searched.append(metric)
            else:
                namespace, metric, dim, value = line[:4]
                assert (namespace, dim) == ("AWS/States", "StateMachineArn"), line
                assert value in (d.ref("CopyTracker"), d.ref("RestoreDrillStateMachine")), line
                assert metric.startswith("Executions"), line
    assert sorted(searched) == sorted(emitted), "every metric we write is on the dashboard"
    age = body["widgets"][0]["properties"]["annotations"]["horizontal"][0]
    assert age["value"] == 30
    alarms = next(w for w in body["widgets"] if w["type"] == "alarm")["properties"]["alarms"]
    assert sorted(alarms) == sorted(d.get_att(n, "Arn") for n in d.resources("AWS::CloudWatch::Alarm"))


def test_the_readiness_alarm_watches_the_metrics_the_sweep_writes():
    alarm = template()["Resources"]["RestoreReadinessAlarm"]["Properties"]
    watched = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    code = (ROOT / "src" / "metrics.rs").read_text()
    assert watched == set(re.findall(r'pub const (?:KITS_FAILED|MODE_MISMATCH|GUARDS_FAILED|SHARING_FAILED|NOT_SEEN)_METRIC: &str = "(\w+)";', code)) and len(watched) == 5
    assert all(m["MetricStat"]["Metric"].get("Dimensions") is None for m in alarm["Metrics"] if "MetricStat" in m)


def test_the_given_up_alarm_watches_the_metric_the_sweep_writes():
    alarm = template()["Resources"]["CopiesGivenUpAlarm"]["Properties"]
    code = (ROOT / "src" / "metrics.rs").read_text()
    assert f'GIVEN_UP_METRIC: &str = "{alarm["MetricName"]}"' in code
    assert alarm["Namespace"] in (ROOT / "src" / "freshness.rs").read_text()
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_the_cloudtrail_rule_ignores_every_cloudhsm_call_our_functions_make():
    # A rule switched to receive read-only management events must not be triggered by our own
    # sweeps; our writes (copies, deletions) announce no new backup either.
    import re

    code = (ROOT / "src" / "aws" / "cloudhsm.rs").read_text()
    ours = {"".join(w.capitalize() for w in m.split("_")) for m in re.findall(r"\.(describe_backups|describe_clusters|copy_backup_to_region|delete_backup|modify_backup_attributes)\(\)", code)}
    assert {"DescribeBackups", "DescribeClusters", "CopyBackupToRegion", "DeleteBackup"} <= ours
    pattern = template()["Resources"]["StartCopyFunction"]["Properties"]["Events"]["CloudTrail"]["Properties"]["Pattern"]
    ignored = set(pattern["detail"]["eventName"][0]["anything-but"])
    assert ours <= ignored, ours - ignored


def test_the_optional_trail_logs_write_events_to_a_private_encrypted_expiring_bucket():
    resources = template()["Resources"]
    for name in ("TrailBucket", "TrailBucketPolicy", "ManagementTrail"):
        assert resources[name]["Condition"] == "CreatesTrail", name
    trail = resources["ManagementTrail"]["Properties"]
    assert trail["IsLogging"] is True and trail["EnableLogFileValidation"] is True
    assert trail["EventSelectors"] == [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]
    bucket = resources["TrailBucket"]
    assert bucket["DeletionPolicy"] == "Retain"
    props = bucket["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
    assert props["LifecycleConfiguration"]["Rules"][0]["Status"] == "Enabled"
    statements = resources["TrailBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows and all("aws:SourceArn" in s["Condition"]["StringEquals"] for s in allows)
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)
