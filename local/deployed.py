"""The template as CloudFormation would deploy it: translated with the pinned aws-sam-translator
(so whatever SAM adds is included), then resolved for one set of parameters - every Ref, GetAtt,
Sub, Join, Split, Select and If replaced by the value it would have in a stack.

The local stack builds its IAM roles, the functions' environments and the state machine from
this, and the template tests read it, so what is tested is what would be deployed.

    deployment = Deployment.load(root, {"DestinationRegions": "us-west-2,eu-west-1"})
    deployment.roles["CopyStepRole"]["Properties"]["Policies"]
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
# GetAtt <resource>.Arn by resource type, from the region, account and physical name.
ARN_FORMATS = {
    "AWS::Lambda::Function": "arn:aws:lambda:{r}:{a}:function:{name}",
    "AWS::IAM::Role": "arn:aws:iam::{a}:role/{name}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{r}:{a}:log-group:{name}:*",
    "AWS::SQS::Queue": "arn:aws:sqs:{r}:{a}:{name}",
    "AWS::Events::Rule": "arn:aws:events:{r}:{a}:rule/{name}",
    "AWS::CloudWatch::Alarm": "arn:aws:cloudwatch:{r}:{a}:alarm:{name}",
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
}


def translate(root: Path, region: str, account: str, template: str = "template.yaml") -> dict:
    """A template through aws-sam-translator, offline (one without SAM's Transform as it is).
    Translated once per process and template text (a test session starts many stacks)."""
    text = (root / template).read_text()
    return copy.deepcopy(_translated(text, region, account))


@functools.lru_cache(maxsize=8)
def _translated(text: str, region: str, account: str) -> dict:
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.public.translator import ManagedPolicyLoader
    from samtranslator.translator.translator import Translator
    from samtranslator.yaml_helper import yaml_parse

    class NoIam:
        """The template names no managed policies, so the translator must never list them."""

        def get_paginator(self, name: str) -> Any:
            raise RuntimeError(f"aws-sam-translator asked IAM for {name}: the template names a managed policy")

    tpl = yaml_parse(text)
    if "Transform" not in tpl:
        return tpl
    for name, res in tpl["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::Function":
            props["CodeUri"] = f"s3://local-artifacts/{name}.zip"  # what `sam deploy` uploads
        if res["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            props["DefinitionUri"] = f"s3://local-artifacts/{name}.asl.json"
    session = boto3.session.Session(region_name=region)
    parameters = {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws"}
    return Translator(None, Parser(), boto_session=session).translate(
        tpl, parameter_values=parameters, get_managed_policy_map=ManagedPolicyLoader(NoIam()).load
    )


@dataclass
class Deployment:
    template: dict
    region: str
    account: str
    stack_name: str
    parameters: dict[str, Any]

    @classmethod
    def load(cls, root: Path, parameters: dict[str, str], region: str = "us-east-1", account: str = "123456789012",
             stack_name: str = "cloudhsm-backup-copy", template: str = "template.yaml") -> "Deployment":
        tpl = translate(root, region, account, template)
        values: dict[str, Any] = {}
        for name, spec in tpl.get("Parameters", {}).items():
            raw = parameters.get(name, spec.get("Default", ""))
            values[name] = [v for v in str(raw).split(",") if v] if spec["Type"] == "CommaDelimitedList" else str(raw)
        unknown = set(parameters) - set(values)
        if unknown:
            raise ValueError(f"unknown parameters {sorted(unknown)}")
        return cls(tpl, region, account, stack_name, values)

    # ----- what the stack is made of ---------------------------------------------------------

    def resources(self, kind: str) -> dict[str, dict]:
        """Resources of one type, resolved (those whose Condition is false are left out)."""
        return {
            name: self.resolve(res)
            for name, res in self.template["Resources"].items()
            if res["Type"] == kind and self.condition(res.get("Condition"))
        }

    @property
    def roles(self) -> dict[str, dict]:
        return self.resources("AWS::IAM::Role")

    @property
    def functions(self) -> dict[str, dict]:
        return self.resources("AWS::Lambda::Function")

    def binary(self, function: str) -> str:
        """The cargo binary a function runs (the SAM Metadata's BuildProperties)."""
        return self.template["Resources"][function]["Metadata"]["BuildProperties"]["Binary"]

    def role_name(self, arn: str) -> str:
        return arn.rsplit("/", 1)[-1]

    # ----- intrinsic functions ---------------------------------------------------------------

    def condition(self, name: str | None) -> bool:
        if name is None:
            return True
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.resolve(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(*(arg if isinstance(arg, list) else arg.split(".", 1)))
            if key == "Fn::Sub":
                return self.sub(*(arg if isinstance(arg, list) else [arg, {}]))
            if key == "Fn::Join":
                return self.resolve(arg[0]).join(str(v) for v in self.resolve(arg[1]))
            if key == "Fn::Split":
                return self.resolve(arg[1]).split(self.resolve(arg[0]))
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                raise ValueError(f"intrinsic {key} is not supported here")
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in node.items()) if v is not NO_VALUE}

    def ref(self, name: str) -> Any:
        pseudo = {**PSEUDO, "AWS::Region": self.region, "AWS::AccountId": self.account, "AWS::StackName": self.stack_name}
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return copy.deepcopy(self.parameters[name])
        res = self.template["Resources"][name]
        kind, props = res["Type"], res.get("Properties", {})
        if kind == "AWS::Lambda::Function":
            return self.resolve(props["FunctionName"])
        if kind == "AWS::Logs::LogGroup":
            return self.resolve(props["LogGroupName"])
        if kind == "AWS::StepFunctions::StateMachine":
            return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{self.resolve(props['StateMachineName'])}"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{self.region}:{self.account}:{self.stack_name}-{name}"
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.stack_name}-{name}"
        return f"{self.stack_name}-{name}"

    def get_att(self, name: str, attribute: str) -> Any:
        kind = self.template["Resources"][name]["Type"]
        # `physical`: the name CloudFormation would give (ours where the template names it).
        physical = self.ref(name) if kind in ("AWS::Lambda::Function", "AWS::Logs::LogGroup") else f"{self.stack_name}-{name}"
        if kind == "AWS::S3::Bucket":
            physical = physical.lower()  # bucket names are lower case
        if attribute == "Arn" and kind in ARN_FORMATS:
            return ARN_FORMATS[kind].format(r=self.region, a=self.account, name=physical)
        if kind == "AWS::SQS::Queue" and attribute == "QueueName":
            return physical
        raise ValueError(f"GetAtt {name}.{attribute} is not supported here")

    def sub(self, text: str, variables: dict) -> str:
        local = {k: self.resolve(v) for k, v in variables.items()}

        def value(m: re.Match) -> str:
            key = m.group(1)
            if key.startswith("!"):
                return "${" + key[1:] + "}"
            if key in local:
                return str(local[key])
            if "." in key and not key.startswith("AWS::"):
                return str(self.get_att(*key.split(".", 1)))
            return str(self.ref(key))

        return re.sub(r"\$\{([^}]+)\}", value, text)


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


if __name__ == "__main__":
    import sys

    root = Path(__file__).resolve().parent.parent
    d = Deployment.load(root, {"DestinationRegions": "us-west-2,eu-west-1", **dict(a.split("=", 1) for a in sys.argv[1:])})
    print(json.dumps({"roles": d.roles, "functions": d.functions}, indent=2, default=str))
