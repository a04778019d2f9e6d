"""The restore drills in the template: off by default, least privilege, and consistent with the
code (what the schedule sends, the events the function puts, the metric the alarm watches)."""

import json
import re
from pathlib import Path

from test_template import deployment, role_statements, actions_of, template

ROOT = Path(__file__).resolve().parents[2]


def drill_statements(d) -> dict[str, dict]:
    return {s["Sid"]: s for s in role_statements(d)["RestoreDrillRole"]}


def test_drills_are_off_unless_scheduled_and_the_schedule_sends_a_plan():
    code = (ROOT / "src" / "handlers" / "restore_drill.rs").read_text()
    assert 'rename_all = "lowercase"' in code and "    Plan {}," in code
    off = deployment()
    (name, rule), = ((n, r) for n, r in off.resources("AWS::Events::Rule").items() if n.startswith("RestoreDrillFunction"))
    assert rule["Properties"]["State"] == "DISABLED"
    assert json.loads(rule["Properties"]["Targets"][0]["Input"]) == {"action": "plan"}
    on = deployment(RestoreDrillSchedule="rate(7 days)", RestoreDrillSubnets="us-west-2=subnet-0a1b2c3d")
    rule = on.resources("AWS::Events::Rule")[name]["Properties"]
    assert (rule["State"], rule["ScheduleExpression"]) == ("ENABLED", "rate(7 days)")
    variables = on.functions["RestoreDrillFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["RESTORE_DRILL_SUBNETS"] == "us-west-2=subnet-0a1b2c3d"
    assert variables["DRILL_STATE_MACHINE_ARN"] == on.ref("RestoreDrillStateMachine")
    assert variables["STACK_NAME"] == on.stack_name


def test_the_subnets_parameter_takes_what_the_code_parses():
    pattern = re.compile(template()["Parameters"]["RestoreDrillSubnets"]["AllowedPattern"])
    for ok in ("", "us-west-2=subnet-0a1b2c3d", "us-west-2=subnet-0a1b2c3d;subnet-1a2b3c4d5e,eu-west-1=subnet-abcdef01"):
        assert pattern.fullmatch(ok), ok
    for bad in ("us-west-2", "us-west-2=sg-0a1b2c3d", "us-west-2=subnet-0a1b", "us-west-2=subnet-0a1b2c3d,"):
        assert not pattern.fullmatch(bad), bad


def test_drills_delete_only_this_stacks_drill_clusters_and_create_only_tagged_ones():
    d = deployment(DestinationRegions="us-west-2,eu-west-1")
    tag = re.search(r'DRILL_TAG: &str = "([^"]+)"', (ROOT / "src" / "drill.rs").read_text()).group(1)
    statements = drill_statements(d)
    delete = statements["DeleteOwnDrillClusters"]
    assert actions_of(delete) == ["cloudhsm:DeleteCluster"]
    assert delete["Resource"] == "arn:aws:cloudhsm:*:123456789012:cluster/*"
    assert delete["Condition"] == {"StringEquals": {"aws:RequestedRegion": ["us-west-2", "eu-west-1"],
                                                    f"aws:ResourceTag/{tag}": d.stack_name}}
    for sid in ("RestoreDrillClusters", "TagDrillClustersAsTheyAreMade"):
        assert statements[sid]["Condition"]["StringEquals"][f"aws:RequestTag/{tag}"] == d.stack_name, sid
    assert statements["RestoreDrillClusters"]["Resource"] == "arn:aws:cloudhsm:*:123456789012:backup/*"
    # No other role may create or delete a cluster, and this one copies and deletes no backup.
    for role, sts in role_statements(d).items():
        acts = {a for s in sts for a in actions_of(s)}
        if role != "RestoreDrillRole":
            assert not acts & {"cloudhsm:CreateCluster", "cloudhsm:DeleteCluster"}, role
        else:
            assert not acts & {"cloudhsm:DeleteBackup", "cloudhsm:CopyBackupToRegion", "cloudhsm:CreateHsm"}, acts
    starts = statements["StartDrills"]
    assert starts["Resource"] == d.ref("RestoreDrillStateMachine")


def test_drill_outcomes_are_announced_as_the_code_puts_them_and_failures_mailed():
    code = (ROOT / "src" / "drill" / "outcome.rs").read_text()
    detail_types = re.findall(r'=> "(CloudHSM Restore Drill \w+)"', code)
    assert detail_types == ["CloudHSM Restore Drill Succeeded", "CloudHSM Restore Drill Failed"]
    d = deployment()
    announce = drill_statements(d)["AnnounceDrills"]
    assert announce["Condition"] == {"StringEquals": {"events:source": "cloudhsm-backup-copy", "events:detail-type": detail_types}}
    rule = d.resources("AWS::Events::Rule")["DrillNotificationRule"]["Properties"]
    assert rule["EventPattern"]["detail-type"] == ["CloudHSM Restore Drill Failed"]
    assert rule["EventPattern"]["detail"]["sourceRegion"] == [d.region]
    fields = set(re.findall(r"pub (\w+):", code[code.index("pub struct DrillAnnouncement"):]))
    camel = {re.sub(r"_(\w)", lambda m: m.group(1).upper(), f) for f in fields}
    paths = rule["Targets"][0]["InputTransformer"]["InputPathsMap"].values()
    assert {p.removeprefix("$.detail.") for p in paths} <= camel
    # The execution names the pattern matches are those the planner gives.
    assert 'format!("drill.{cluster}.{region}.")' in (ROOT / "src" / "drill" / "runs.rs").read_text()


def test_the_overdue_alarm_watches_the_age_the_sweep_writes():
    alarm = template()["Resources"]["RestoreDrillOverdueAlarm"]["Properties"]
    code = (ROOT / "src" / "metrics.rs").read_text()
    assert f'DRILL_AGE_METRIC: &str = "{alarm["MetricName"]}"' in code
    assert alarm["Threshold"] == {"Ref": "DrillAgeThresholdHours"}
    assert "Dimensions" not in alarm and alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_the_drill_loop_policy_is_the_one_the_code_reads():
    resources = template()["Resources"]
    subs = resources["RestoreDrillStateMachine"]["Properties"]["DefinitionSubstitutions"]
    definition = json.loads((ROOT / "statemachine" / "restore-drill.asl.json").read_text())
    code = (ROOT / "src" / "drill" / "steps.rs").read_text()
    fields = re.findall(r"pub (\w+): u32,", code[code.index("pub struct DrillPolicy"):code.index("impl DrillPolicy")])
    camel = [re.sub(r"_(\w)", lambda m: m.group(1).upper(), f) for f in fields]
    for name in ("CreateCluster", "CheckCluster", "CleanUp"):
        policy = definition["States"][name]["Parameters"]["policy"]
        assert sorted(policy) == sorted(camel), name
        assert all(v.strip("${}") in subs for v in policy.values()), name
    # Every path ends in clean-up: each task that can fail before it is caught into it.
    for name in ("CreateCluster", "CheckCluster"):
        assert definition["States"][name]["Catch"][0]["Next"] == "CleanUp", name
    assert definition["States"]["Route"]["Default"] == "CleanUp"
