"""template.yaml grants each function exactly the AWS actions its code calls.

Run by tests/run.sh with the virtualenv's Python (cfn-lint supplies the CloudFormation YAML
loader): python -m unittest discover -s tests -p '*_test.py'
"""

import pathlib
import re
import unittest

from cfnlint.decode import cfn_yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The SDK clients, by the names the code gives them, and their IAM service prefixes.
CLIENTS = {
    "ssm": "ssm",
    "kms": "kms",
    "elb": "elasticloadbalancing",
    "secrets": "secretsmanager",
    "dynamo": "dynamodb",
    "cloudformation": "cloudformation",
}
CALL = re.compile(r"\b(ssm|kms|elb|secrets|dynamo|cloudformation)\s*\.\s*([a-z_0-9]+)\(\)")
# Calls that IAM checks as other actions: a transaction's Puts need PutItem.
ACTIONS_OF = {"dynamodb:TransactWriteItems": {"dynamodb:PutItem"}}


def code_of(crate: str) -> str:
    """The function's sources and the shared modules they use, comments left out."""
    files = sorted((ROOT / "functions" / crate / "src").rglob("*.rs"))
    text = "\n".join(f.read_text() for f in files)
    used = {name for path in re.findall(r"shared::((?:\w+::)+)", text) for name in path.split("::")}
    if "shared::run(" in text:
        # shared::run confirms every request with CloudFormation first.
        used.add("stacks")
    for path in sorted((ROOT / "shared" / "src").rglob("*.rs")):
        module = path.parent.name if path.name == "mod.rs" else path.stem
        if module in used:
            text += "\n" + path.read_text()
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))


def actions_called(crate: str) -> set:
    code = code_of(crate)
    actions = set()
    for client, method in CALL.findall(code):
        action = f"{CLIENTS[client]}:{''.join(w.capitalize() for w in method.split('_'))}"
        actions |= ACTIONS_OF.get(action, {action})
    # Permissions an SDK call needs beyond its own action.
    if "ParameterType::SecureString" in code:
        # SSM encrypts and decrypts SecureStrings with the caller's KMS rights.
        actions |= {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"}
    if "get_secret_value()" in code:
        # Secrets Manager decrypts the secret with the caller's KMS rights.
        actions.add("kms:Decrypt")
    if re.search(r"put_parameter\(\)[^;]*?\.tags\(", code, re.S):
        # PutParameter with Tags is also AddTagsToResource.
        actions.add("ssm:AddTagsToResource")
    return actions


def template() -> dict:
    return cfn_yaml.load(str(ROOT / "template.yaml"))


def functions() -> dict:
    """Every function in template.yaml, by logical id: the crate cargo lambda builds for it."""
    return {
        logical_id: resource["Metadata"]["BuildProperties"]["Binary"]
        for logical_id, resource in template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


FUNCTIONS = functions()


def statements(function: dict) -> list:
    found = []
    for policy in function["Properties"].get("Policies", []):
        if isinstance(policy, dict):
            found.extend(policy["Statement"])
    return found


def listed(value) -> list:
    return value if isinstance(value, list) else [value]


class TemplateTest(unittest.TestCase):
    def test_each_function_is_granted_exactly_the_actions_its_code_calls(self):
        resources = template()["Resources"]
        for logical_id, crate in FUNCTIONS.items():
            with self.subTest(function=crate):
                granted = {a for s in statements(resources[logical_id]) for a in listed(s["Action"])}
                called = actions_called(crate)
                self.assertTrue(called, f"no SDK calls found in {crate}: the scan is broken")
                self.assertEqual(
                    sorted(called - granted), [], f"{crate} calls these without permission"
                )
                self.assertEqual(
                    sorted(granted - called), [], f"{crate} is granted these and never calls them"
                )

    def test_every_function_crate_is_in_the_template_and_nothing_else_is(self):
        crates = {p.parent.name for p in (ROOT / "functions").glob("*/Cargo.toml")}
        self.assertEqual(sorted(FUNCTIONS.values()), sorted(crates))

    def test_only_elbv2_describe_has_a_wildcard_resource(self):
        resources = template()["Resources"]
        for logical_id in FUNCTIONS:
            for statement in statements(resources[logical_id]):
                if "*" in listed(statement["Resource"]):
                    self.assertEqual(
                        listed(statement["Action"]), ["elasticloadbalancing:DescribeRules"], statement
                    )

    def test_functions_are_arm64_al2023_bootstraps_built_by_cargo_lambda(self):
        t = template()
        globals_ = t["Globals"]["Function"]
        self.assertEqual(globals_["Runtime"], "provided.al2023")
        self.assertEqual(globals_["Handler"], "bootstrap")
        self.assertEqual(globals_["Architectures"], ["arm64"])
        self.assertEqual(globals_["LoggingConfig"]["LogFormat"], "JSON")
        for logical_id, crate in FUNCTIONS.items():
            metadata = t["Resources"][logical_id]["Metadata"]
            self.assertEqual(metadata["BuildMethod"], "rust-cargolambda")
            self.assertEqual(metadata["BuildProperties"]["Binary"], crate)

    def test_outputs_export_every_service_token(self):
        outputs = template()["Outputs"]
        for logical_id in FUNCTIONS:
            output = outputs[f"{logical_id}Arn"]
            self.assertEqual(output["Value"], {"Fn::GetAtt": [logical_id, "Arn"]})
            self.assertIn("Export", output)


if __name__ == "__main__":
    unittest.main()
