"""Provision the local AWS resources in moto from the store's templates.

The templates are the only list of resources: template.yaml nests the platform's and
each service's (AWS::Serverless::Application), and each becomes a local stack of its
own, in deploy order (DependsOn). A stack's AWS::SSM::Parameter values are written to
moto's SSM before the next stack's {{resolve:ssm:...}} references are read, as
CloudFormation resolves them at deploy time. Tables, queues and topics go
through the real SAM transform and moto's CloudFormation; Cognito is created
with cognito-idp calls (moto's CloudFormation leaves AWS::Cognito::* blank).
SES email identities are created with sesv2 calls (SES refuses to send from
an unknown sender), and the TTL settings of tables are applied with
UpdateTimeToLive (moto's CloudFormation ignores TimeToLiveSpecification).
Functions, roles, the HTTP API, alarms, log groups and the storefront's bucket and
CloudFront distribution are not needed locally (only LOCAL_TYPES go to moto):
infra/storefront_server.py serves storefront/, infra/apigw.py plays the API (its
CORS too), `cargo lambda watch` plays the functions, and infra/driver.py
plays Lambda's event source mappings, which `event_source_mappings` reads
from the transformed template.
"""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
STACK_NAME = "bookish"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
PSEUDO_PARAMETERS = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "AWS::StackName": STACK_NAME,
                     "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

# Resource types that moto's CloudFormation creates and the functions use.
# Add a type here when a service needs it locally (and moto supports it).
LOCAL_TYPES = {
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
}

# Users from the contract; the password policy in template.yaml accepts these.
USERS = {
    "admin": {"email": "admin@bookish.local", "password": "Bookish-Admin-1!", "groups": ["admin"]},
    "shopper": {"email": "shopper@bookish.local", "password": "Bookish-Shopper-1!", "groups": []},
}


@dataclass
class Stack:
    """What the provisioning produced: physical ids and the functions' env."""

    endpoint: str
    resources: dict[str, dict] = field(default_factory=dict)  # logical id -> {type, physicalId}
    function_env: dict[str, str] = field(default_factory=dict)
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    groups: list[str] = field(default_factory=list)
    # logical id -> {url, arn, name, visibilityTimeout, [dlq, dlqUrl, maxReceiveCount]}
    queues: dict[str, dict] = field(default_factory=dict)
    # table logical id -> {arn, viewType, table}
    streams: dict[str, dict] = field(default_factory=dict)
    # function logical id -> binary (the name cargo lambda watch answers to)
    functions: dict[str, str] = field(default_factory=dict)
    # AWS::Lambda::EventSourceMapping resources, resolved (see event_source_mappings)
    event_source_mappings: list[dict] = field(default_factory=list)
    email_identities: list[str] = field(default_factory=list)
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.user_pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint}/{self.user_pool_id}/.well-known/jwks.json"

    def physical(self, rtype: str) -> dict[str, str]:
        return {k: v["physicalId"] for k, v in self.resources.items() if v["type"] == rtype}


def client(service: str, endpoint: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


# --------------------------------------------------------------------------
# Template handling
# --------------------------------------------------------------------------

def load_template(path: Path) -> dict:
    """Decode YAML with CloudFormation tags (!Ref, !Sub, ...) into plain JSON data."""
    from cfnlint.decode import decode

    template, errors = decode(str(path))
    if errors or template is None:
        raise SystemExit(f"cannot parse {path}: {errors}")
    # cfn-lint returns its own node subclasses; round-trip to plain dicts/lists/strs.
    return json.loads(json.dumps(template))


@dataclass
class Part:
    """One stack of the store: the platform or a service, as the top-level template nests it."""

    name: str  # its logical id in the top-level template (Platform, Catalog, ...)
    path: Path
    template: dict
    parameters: dict[str, str]  # the values it is given


def store(path: Path = ROOT / "template.yaml", overrides: dict[str, str] | None = None) -> list[Part]:
    """The top-level template's nested stacks (AWS::Serverless::Application with a local
    Location), in the order CloudFormation creates them (DependsOn), with the parameter
    values each is given: the top level's defaults, local choices and overrides."""
    top = load_template(path)
    top_values = template_parameters(top, overrides)
    apps = {k: r for k, r in top["Resources"].items() if r["Type"] == "AWS::Serverless::Application"}
    refs = {**PSEUDO_PARAMETERS, **top_values}
    parts: list[Part] = []
    placed: set[str] = set()
    while len(placed) < len(apps):
        ready = [k for k, r in apps.items() if k not in placed
                 and set(as_list(r.get("DependsOn", []))) <= placed]
        if not ready:
            raise SystemExit(f"{path}: DependsOn among {sorted(set(apps) - placed)} is a cycle")
        for name in ready:  # in template order among equals
            props = apps[name]["Properties"]
            child = path.parent / props["Location"]
            template = load_template(child)
            given = {k: str(resolve(v, refs)) for k, v in props.get("Parameters", {}).items()}
            defaults = {k: str(p["Default"]) for k, p in template.get("Parameters", {}).items() if "Default" in p}
            parts.append(Part(name, child, template, {**defaults, **given}))
            placed.add(name)
    return parts


def store_template(path: Path = ROOT / "template.yaml", transformed: bool = False) -> dict:
    """Every stack's resources in one template, as a reader of the whole store wants them:
    each function with its stack's Globals folded in (or, with `transformed`, each stack
    through the SAM translator). A logical id used by two stacks is an error: the local
    stack, the tests and the tables in README.md name resources by it."""
    merged: dict = {"Parameters": {}, "Conditions": {}, "Resources": {}}
    owner: dict[str, str] = {}
    for part in store(path):
        template = sam_transform(part.template) if transformed else with_globals(part.template)
        for section in merged:
            for key, value in template.get(section, {}).items():
                if section == "Resources" and key in owner:
                    raise SystemExit(f"{key} is in both the {owner[key]} and the {part.name} templates")
                owner.setdefault(key, part.name)
                merged[section][key] = value
    return merged


def with_globals(template: dict) -> dict:
    """The template with Globals.Function folded into each AWS::Serverless::Function (a
    function's own value wins; environment variables merge), as SAM does."""
    template = copy.deepcopy(template)
    defaults = template.pop("Globals", {}).get("Function", {})
    for res in template.get("Resources", {}).values():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = res.setdefault("Properties", {})
        for key, value in defaults.items():
            if key == "Environment":
                variables = {**value.get("Variables", {}), **props.get("Environment", {}).get("Variables", {})}
                props["Environment"] = {"Variables": variables}
            else:
                props.setdefault(key, copy.deepcopy(value))
    return template


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


SSM_REFERENCE = re.compile(r"\{\{resolve:ssm:((?:\$\{[^}]*\}|[^}:])+)\}\}")


def resolve_ssm_references(value, parameters: dict[str, str], lookup):
    """Replace each {{resolve:ssm:NAME}} dynamic reference (NAME may use ${Stage} and the
    other parameters when inside Fn::Sub) by the parameter's value, as CloudFormation does
    at deploy time; `lookup` reads one SSM parameter."""
    def substitute(text: str, in_sub: bool) -> str:
        def value_of(match: re.Match) -> str:
            name = match.group(1)
            if in_sub:
                name = re.sub(r"\$\{([^!}]+)\}", lambda m: {**PSEUDO_PARAMETERS, **parameters}[m.group(1)], name)
            return lookup(name)
        return SSM_REFERENCE.sub(value_of, text)

    if isinstance(value, str):
        return substitute(value, False)
    if isinstance(value, list):
        return [resolve_ssm_references(v, parameters, lookup) for v in value]
    if isinstance(value, dict):
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            text = sub if isinstance(sub, str) else sub[0]
            text = substitute(text, True)
            if "${" not in text.replace("${!", ""):
                return text  # nothing left to substitute: a plain string, as in AWS
            return {"Fn::Sub": text if isinstance(sub, str) else [text, sub[1]]}
        return {k: resolve_ssm_references(v, parameters, lookup) for k, v in value.items()}
    return value


def sam_transform(template: dict) -> dict:
    """Expand AWS::Serverless::* with the real SAM translator, offline."""
    from samtranslator.translator.transform import transform

    if "Transform" not in template:
        return copy.deepcopy(template)
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    template = copy.deepcopy(template)
    for res in template.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function":
            # The translator wants an S3 location; the code never goes anywhere.
            res.setdefault("Properties", {})["CodeUri"] = "s3://bookish-local/placeholder.zip"

    class NoManagedPolicies:  # the translator asks IAM for managed policy ARNs
        def load(self):
            return {}

    return transform(template, {}, NoManagedPolicies())


def references(value) -> set[str]:
    """Logical ids (and pseudo parameters) that a CloudFormation value refers to."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else target.split(".")[0])
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            text, local_vars = (sub[0], sub[1]) if isinstance(sub, list) else (sub, {})
            for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
                if name not in local_vars:
                    found.add(name.split(".")[0])
        for v in value.values():
            found |= references(v)
    elif isinstance(value, list):
        for v in value:
            found |= references(v)
    return found


def local_template(transformed: dict) -> tuple[dict, dict[str, str], dict]:
    """Keep the resources moto should create; expose the functions' env as Outputs.

    Returns the template for moto, a map output key -> env var name (moto's own
    intrinsic-function evaluation resolves !Ref/!GetAtt/!Sub in the functions'
    Environment to physical names) and the env vars that refer to resources
    moto does not create (Cognito): those are resolved after create_cognito.
    """
    resources = transformed.get("Resources", {})
    kept = {k: v for k, v in resources.items() if v.get("Type") in LOCAL_TYPES}
    parameters = transformed.get("Parameters", {})
    resolvable = set(kept) | set(parameters) | {"AWS::Region", "AWS::AccountId", "AWS::StackName",
                                                "AWS::Partition", "AWS::URLSuffix", "AWS::NoValue"}
    for name, res in kept.items():
        missing = references(res) - resolvable
        if missing:
            raise SystemExit(f"{name} refers to {sorted(missing)}, which moto does not create locally")

    # cargo lambda watch gives all functions one environment: merge them.
    seen: dict[str, tuple[str, object]] = {}  # env var -> (function, value)
    for fname, res in sorted(resources.items()):
        if res.get("Type") != "AWS::Lambda::Function":
            continue
        variables = res.get("Properties", {}).get("Environment", {}).get("Variables", {})
        for var, value in sorted(variables.items()):
            if var in seen and seen[var][1] != value:
                raise SystemExit(f"env var {var} differs between functions {seen[var][0]} and {fname}")
            seen[var] = (fname, value)

    outputs: dict[str, dict] = {}
    deferred: dict = {}
    for i, (var, (_, value)) in enumerate(sorted(seen.items())):
        if references(value) <= resolvable:
            outputs[f"Env{i}"] = {"Value": value, "Description": var}
        else:
            deferred[var] = value

    local = {"AWSTemplateFormatVersion": "2010-09-09", "Parameters": parameters, "Resources": kept}
    if outputs:
        local["Outputs"] = outputs
    return local, {k: v["Description"] for k, v in outputs.items()}, deferred


# --------------------------------------------------------------------------
# Cognito from the template's own properties
# --------------------------------------------------------------------------

def resolve(value, refs: dict[str, str]):
    """Evaluate the few intrinsic functions Cognito properties use (Ref, Sub, Join)."""
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        return refs[value["Ref"]]
    if "Fn::GetAtt" in value:
        att = value["Fn::GetAtt"]
        return refs[".".join(att) if isinstance(att, list) else att]
    if "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        text, local_vars = (sub[0], sub[1]) if isinstance(sub, list) else (sub, {})
        names = {**refs, **{k: resolve(v, refs) for k, v in local_vars.items()}}
        return re.sub(r"\$\{([^!}][^}]*)\}", lambda m: str(names[m.group(1)]), text)
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(str(p) for p in resolve(parts, refs))
    if any(k.startswith("Fn::") for k in value):
        raise SystemExit(f"unsupported intrinsic function in a Cognito property: {value}")
    return {k: resolve(v, refs) for k, v in value.items()}


def api_params(cognito, operation: str, props: dict, renames: dict[str, str] | None = None) -> dict:
    """Map CloudFormation properties to API parameters (same names, bar renames)."""
    members = cognito.meta.service_model.operation_model(operation).input_shape.members
    params = {}
    for key, value in props.items():
        key = (renames or {}).get(key, key)
        if key in members:
            params[key] = value
        else:
            print(f"  note: {operation}: property {key} has no local equivalent; ignored")
    return params


def create_cognito(template: dict, stack: Stack) -> None:
    cognito = client("cognito-idp", stack.endpoint)
    resources = template.get("Resources", {})
    refs = dict(PSEUDO_PARAMETERS)

    def of_type(rtype):
        return [(k, r) for k, r in resources.items() if r.get("Type") == rtype]

    # Order matters: pools, then clients and groups that !Ref their pool.
    for logical, res in of_type("AWS::Cognito::UserPool"):
        # moto sends no SMS: the role Cognito would text verification codes as is AWS's business.
        props = {k: v for k, v in res.get("Properties", {}).items() if k != "SmsConfiguration"}
        props = resolve(props, refs)
        params = api_params(cognito, "CreateUserPool", props, {"UserPoolName": "PoolName"})
        params.setdefault("PoolName", logical)
        refs[logical] = cognito.create_user_pool(**params)["UserPool"]["Id"]
        stack.resources[logical] = {"type": "AWS::Cognito::UserPool", "physicalId": refs[logical]}
    for logical, res in of_type("AWS::Cognito::UserPoolClient"):
        props = resolve(res.get("Properties", {}), refs)
        params = api_params(cognito, "CreateUserPoolClient", props)
        params.setdefault("ClientName", logical)
        refs[logical] = cognito.create_user_pool_client(**params)["UserPoolClient"]["ClientId"]
        stack.resources[logical] = {"type": "AWS::Cognito::UserPoolClient", "physicalId": refs[logical]}
    for logical, res in of_type("AWS::Cognito::UserPoolGroup"):
        props = resolve(res.get("Properties", {}), refs)
        params = api_params(cognito, "CreateGroup", props)
        cognito.create_group(**params)
        stack.groups.append(params["GroupName"])
        stack.resources[logical] = {"type": "AWS::Cognito::UserPoolGroup", "physicalId": params["GroupName"]}

    pools = stack.physical("AWS::Cognito::UserPool")
    clients = stack.physical("AWS::Cognito::UserPoolClient")
    if len(pools) != 1 or len(clients) != 1:
        raise SystemExit(f"expected one user pool and one client in the template, got {pools} / {clients}")
    stack.user_pool_id = next(iter(pools.values()))
    stack.user_pool_client_id = next(iter(clients.values()))

    # Users: SignUp exercises the pool's password policy, as a real sign-up would.
    for user in USERS.values():
        cognito.sign_up(
            ClientId=stack.user_pool_client_id,
            Username=user["email"],
            Password=user["password"],
            UserAttributes=[{"Name": "email", "Value": user["email"]}],
        )
        cognito.admin_confirm_sign_up(UserPoolId=stack.user_pool_id, Username=user["email"])
        # What entering the emailed code does: only verified addresses get mail.
        cognito.admin_update_user_attributes(UserPoolId=stack.user_pool_id, Username=user["email"],
                                             UserAttributes=[{"Name": "email_verified", "Value": "true"}])
        for group in user["groups"]:
            cognito.admin_add_user_to_group(UserPoolId=stack.user_pool_id, Username=user["email"], GroupName=group)


def sign_in(endpoint: str, client_id: str, email: str, password: str) -> dict:
    """USER_PASSWORD_AUTH sign-in; returns the AuthenticationResult (IdToken, AccessToken, ...)."""
    cognito = client("cognito-idp", endpoint)
    return cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )["AuthenticationResult"]


def function_binaries(template: dict) -> dict[str, str]:
    """Logical id -> binary name (Metadata.BuildProperties.Binary) of each function."""
    return {
        logical: res.get("Metadata", {}).get("BuildProperties", {}).get("Binary", logical)
        for logical, res in template.get("Resources", {}).items()
        if res.get("Type") == "AWS::Serverless::Function"
    }


# --------------------------------------------------------------------------
# Queues, streams, TTL, SES: what moto's CloudFormation leaves to us
# --------------------------------------------------------------------------

# Values for the parameters a deployer must choose (no default in template.yaml).
LOCAL_PARAMETERS = {"SenderEmail": "orders@bookish.local"}


def template_parameters(template: dict, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Parameter values: the template's defaults, the local choices, then overrides."""
    values = {name: str(p["Default"]) for name, p in template.get("Parameters", {}).items() if "Default" in p}
    values.update({k: v for k, v in LOCAL_PARAMETERS.items() if k in template.get("Parameters", {})})
    values.update(overrides or {})
    missing = sorted(set(template.get("Parameters", {})) - set(values))
    if missing:
        raise SystemExit(f"template parameters without a default need a value: {missing}")
    return values


def describe_queues(stack: Stack) -> None:
    """Local URL, ARN, visibility timeout and redrive target of every queue.

    moto's CloudFormation names a queue by its AWS-style URL
    (https://sqs.<region>.amazonaws.com/...); GetQueueUrl gives the one on the
    moto endpoint, which is what everything local uses.
    """
    sqs = client("sqs", stack.endpoint)
    by_arn: dict[str, str] = {}
    for logical, physical in stack.physical("AWS::SQS::Queue").items():
        name = physical.rstrip("/").rsplit("/", 1)[-1]
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        stack.queues[logical] = {"url": url, "arn": attrs["QueueArn"], "name": name,
                                 "visibilityTimeout": int(attrs["VisibilityTimeout"])}
        by_arn[attrs["QueueArn"]] = logical
        if "RedrivePolicy" in attrs:
            redrive = json.loads(attrs["RedrivePolicy"])
            stack.queues[logical]["redrive"] = redrive
    for queue in stack.queues.values():
        redrive = queue.pop("redrive", None)
        if redrive:
            dlq = by_arn[redrive["deadLetterTargetArn"]]
            queue.update(dlq=dlq, dlqUrl=stack.queues[dlq]["url"], maxReceiveCount=int(redrive["maxReceiveCount"]))


def table_settings(template: dict, stack: Stack) -> None:
    """Streams of the tables (ARN, view type), and their TTL settings applied."""
    ddb = client("dynamodb", stack.endpoint)
    for logical, name in stack.physical("AWS::DynamoDB::Table").items():
        if logical not in template["Resources"]:
            continue  # another stack's, done with it
        props = template["Resources"][logical].get("Properties", {})
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"], "Enabled": True})
        if props.get("StreamSpecification"):
            table = ddb.describe_table(TableName=name)["Table"]
            if not table.get("LatestStreamArn"):
                raise SystemExit(f"{logical}: the template enables a stream, moto did not create it")
            stack.streams[logical] = {"arn": table["LatestStreamArn"], "table": name,
                                      "viewType": table["StreamSpecification"]["StreamViewType"]}


def create_email_identities(template: dict, stack: Stack, refs: dict[str, str]) -> None:
    """AWS::SES::EmailIdentity -> sesv2 CreateEmailIdentity (moto marks it verified)."""
    ses = client("sesv2", stack.endpoint)
    for logical, res in template.get("Resources", {}).items():
        if res.get("Type") != "AWS::SES::EmailIdentity":
            continue
        identity = resolve(res["Properties"]["EmailIdentity"], refs)
        ses.create_email_identity(EmailIdentity=identity)
        stack.email_identities.append(identity)
        stack.resources[logical] = {"type": "AWS::SES::EmailIdentity", "physicalId": identity}


def event_source_mappings(transformed: dict, stack: Stack) -> list[dict]:
    """The transformed template's AWS::Lambda::EventSourceMapping resources, resolved.

    Each becomes {"name", "function", "binary", "kind" ("sqs" | "dynamodb"),
    "source" (queue or table logical id), "sourceArn", "queueUrl" (sqs),
    "batchSize", "functionResponseTypes", "filters" (parsed FilterCriteria
    patterns), "enabled", "functionTimeout", and for streams "startingPosition",
    "maximumRetryAttempts", "bisectBatchOnFunctionError", "onFailure"
    ({queue, url, arn} or None)}: everything infra/driver.py needs, taken
    from the one template rather than a second list.
    """
    resources = transformed.get("Resources", {})
    stream_owner = {v["arn"]: k for k, v in stack.streams.items()}
    queue_of_arn = {v["arn"]: k for k, v in stack.queues.items()}

    def target(value, what: str, mapping: str) -> tuple[str, str]:
        """(logical id, attribute) of a Ref / GetAtt, or of a literal ARN we created."""
        if isinstance(value, dict) and "Ref" in value:
            return value["Ref"], "Ref"
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            logical, attr = (att[0], att[1]) if isinstance(att, list) else att.split(".", 1)
            return logical, attr
        if isinstance(value, str) and value in queue_of_arn:
            return queue_of_arn[value], "Arn"
        if isinstance(value, str) and value in stream_owner:
            return stream_owner[value], "StreamArn"
        raise SystemExit(f"{mapping}: cannot resolve {what} {value!r} locally")

    mappings = schedules(transformed, stack)
    for name, res in sorted(resources.items()):
        if res.get("Type") != "AWS::Lambda::EventSourceMapping":
            continue
        props = res.get("Properties", {})
        function, _ = target(props["FunctionName"], "FunctionName", name)
        if function not in stack.functions:
            raise SystemExit(f"{name}: FunctionName {function} is not a function of the template")
        source, attr = target(props["EventSourceArn"], "EventSourceArn", name)
        filters = [json.loads(f["Pattern"]) for f in props.get("FilterCriteria", {}).get("Filters", [])]
        mapping = {
            "name": name,
            "function": function,
            "binary": stack.functions[function],
            "source": source,
            "batchSize": int(props.get("BatchSize", 10 if source in stack.queues else 100)),
            "functionResponseTypes": props.get("FunctionResponseTypes", []),
            "filters": filters,
            "enabled": props.get("Enabled", True) not in (False, "false", "False"),
            # Lambda's default is 3 s; Globals in template.yaml set ours.
            "functionTimeout": int(resources[function].get("Properties", {}).get("Timeout", 3)),
        }
        if source in stack.queues and attr == "Arn":
            queue = stack.queues[source]
            mapping.update(kind="sqs", sourceArn=queue["arn"], queueUrl=queue["url"],
                           visibilityTimeout=queue["visibilityTimeout"],
                           **{k: queue[k] for k in ("dlq", "dlqUrl", "maxReceiveCount") if k in queue})
        elif source in stack.streams and attr == "StreamArn":
            on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            destination = None
            if on_failure is not None:
                dest, _ = target(on_failure, "DestinationConfig.OnFailure.Destination", name)
                if dest not in stack.queues:
                    raise SystemExit(f"{name}: OnFailure destination {dest} is not a queue; "
                                     "only SQS destinations are driven locally")
                destination = {"queue": dest, "url": stack.queues[dest]["url"], "arn": stack.queues[dest]["arn"]}
            mapping.update(
                kind="dynamodb",
                sourceArn=stack.streams[source]["arn"],
                startingPosition=props.get("StartingPosition", "LATEST"),
                maximumRetryAttempts=int(props.get("MaximumRetryAttempts", -1)),
                maximumRecordAgeInSeconds=int(props.get("MaximumRecordAgeInSeconds", -1)),
                bisectBatchOnFunctionError=props.get("BisectBatchOnFunctionError", False) in (True, "true", "True"),
                onFailure=destination,
            )
        else:
            raise SystemExit(f"{name}: event source {source}.{attr} is neither a queue nor a table stream "
                             "created locally")
        mappings.append(mapping)
    return mappings


RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
RATE_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def schedules(transformed: dict, stack: Stack) -> list[dict]:
    """The Schedule events of the functions (AWS::Events::Rule with a ScheduleExpression
    targeting a function), as mappings of kind "schedule" that infra/driver.py fires:
    {"name", "function", "binary", "kind", "source" (the rule), "expression",
    "intervalSeconds", ...}. Only rate() expressions are driven locally."""
    resources = transformed.get("Resources", {})
    found = []
    for name, res in sorted(resources.items()):
        props = res.get("Properties", {})
        if res.get("Type") != "AWS::Events::Rule" or "ScheduleExpression" not in props:
            continue
        expression = props["ScheduleExpression"]
        rate = RATE.match(expression)
        if not rate:
            raise SystemExit(f"{name}: only rate(...) schedules are driven locally, not {expression!r}")
        interval = int(rate.group(1)) * RATE_UNIT_SECONDS[rate.group(2).rstrip("s")]
        for target in props.get("Targets", []):
            att = target.get("Arn", {}).get("Fn::GetAtt")
            function = (att[0] if isinstance(att, list) else str(att).split(".", 1)[0]) if att else None
            if function not in stack.functions:
                raise SystemExit(f"{name}: target {target.get('Arn')!r} is not a function of the template")
            found.append({
                "name": name,
                "function": function,
                "binary": stack.functions[function],
                "kind": "schedule",
                "source": name,
                "sourceArn": f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}",
                "expression": expression,
                "intervalSeconds": interval,
                "batchSize": 1,
                "functionResponseTypes": [],
                "filters": [],
                "enabled": props.get("State", "ENABLED") == "ENABLED",
                "functionTimeout": int(resources[function].get("Properties", {}).get("Timeout", 3)),
            })
    return found


# Locally every Stripe call goes to localstripe with this test key; in AWS the key is
# whatever the stack's SSM SecureString parameter holds.
LOCAL_STRIPE_KEY = "sk_test_bookish_local"


def create_secrets(stack: Stack) -> None:
    """The SecureString parameters the functions read (template parameters *SecretKeyParameter)."""
    ssm = client("ssm", stack.endpoint)
    for name, value in stack.parameters.items():
        if name == "StripeSecretKeyParameter":
            ssm.put_parameter(Name=value, Value=LOCAL_STRIPE_KEY, Type="SecureString", Overwrite=True)


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------

def provision(template_path: Path, endpoint: str, parameters: dict[str, str] | None = None) -> Stack:
    """Create every stack of the store in a freshly reset moto, in deploy order, and return
    the physical names. Each stack's SSM parameters are written before the next stack's
    {{resolve:ssm:...}} references are read, as CloudFormation would."""
    stack = Stack(endpoint=endpoint)
    ssm = client("ssm", endpoint)

    def lookup(name: str) -> str:
        try:
            return ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            raise SystemExit(f"SSM parameter {name} is read before any stack writes it: "
                             "check DependsOn in the top-level template") from None

    env_origin: dict[str, str] = {}  # env var -> the stack that set it
    for part in store(template_path, parameters):
        template = resolve_ssm_references(part.template, part.parameters, lookup)
        provision_part(part.name, template, part.parameters, stack, env_origin)
    create_secrets(stack)
    return stack


def provision_part(name: str, template: dict, parameters: dict[str, str], stack: Stack,
                   env_origin: dict[str, str]) -> None:
    """One stack: moto's CloudFormation for LOCAL_TYPES, then what it leaves to us."""
    transformed = sam_transform(template)
    local, env_outputs, deferred = local_template(transformed)
    stack.parameters.update(parameters)
    functions = function_binaries(template)
    stack.functions.update(functions)

    cfn = client("cloudformation", stack.endpoint)
    stack_name = f"{STACK_NAME}-{name.lower()}"
    cfn.create_stack(StackName=stack_name, TemplateBody=json.dumps(local),
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    described = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    if described["StackStatus"] != "CREATE_COMPLETE":
        raise SystemExit(f"local stack {stack_name}: {described['StackStatus']} "
                         f"{described.get('StackStatusReason', '')}")
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for res in page["StackResourceSummaries"]:
            if res["LogicalResourceId"] in stack.resources:
                raise SystemExit(f"{res['LogicalResourceId']} is in two stacks")
            stack.resources[res["LogicalResourceId"]] = {"type": res["ResourceType"],
                                                         "physicalId": res["PhysicalResourceId"]}
    env: dict[str, str] = {}
    for out in described.get("Outputs", []):
        if out["OutputKey"] in env_outputs:
            env[env_outputs[out["OutputKey"]]] = out["OutputValue"]

    describe_queues(stack)
    table_settings(template, stack)
    if any(r.get("Type") == "AWS::Cognito::UserPool" for r in template.get("Resources", {}).values()):
        create_cognito(template, stack)

    # Env vars naming Cognito resources, or functions (locally a function is its
    # binary: the name cargo lambda watch's Invoke API answers to), or template
    # parameters, or anything else moto's CloudFormation did not create:
    # resolve against what we know.
    refs = local_refs(stack, parameters)
    for var, value in deferred.items():
        try:
            env[var] = str(resolve(value, refs))
        except (KeyError, SystemExit):
            print(f"  note: function env {var} = {value} cannot be resolved locally; not set")
    # Queue URLs in the env: the moto endpoint's form (see describe_queues).
    local_url = {stack.resources[k]["physicalId"]: v["url"] for k, v in stack.queues.items()}
    # cargo lambda watch gives all functions one environment: the stacks must agree.
    for var, value in env.items():
        value = local_url.get(value, value)
        if var in stack.function_env and stack.function_env[var] != value:
            raise SystemExit(f"env var {var} differs between the {env_origin[var]} and {name} stacks")
        stack.function_env[var] = value
        env_origin.setdefault(var, name)

    create_email_identities(template, stack, refs)
    write_parameters(template, stack, local_refs(stack, parameters))
    stack.event_source_mappings += event_source_mappings(transformed, stack)


def local_refs(stack: Stack, parameters: dict[str, str]) -> dict[str, str]:
    """What a Ref, GetAtt or ${...} names locally, for the resources created so far."""
    refs = {**PSEUDO_PARAMETERS, **stack.parameters, **parameters,
            **{k: v["physicalId"] for k, v in stack.resources.items()}}
    for logical, binary in stack.functions.items():
        refs[logical] = refs[f"{logical}.Arn"] = binary  # Lambda's Invoke takes either
    for logical, queue in stack.queues.items():
        refs.update({logical: queue["url"], f"{logical}.Arn": queue["arn"], f"{logical}.QueueName": queue["name"]})
    for logical, stream in stack.streams.items():
        refs[f"{logical}.StreamArn"] = stream["arn"]
    for logical, table in stack.physical("AWS::DynamoDB::Table").items():
        refs[f"{logical}.Arn"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}"
    for logical, pool in stack.physical("AWS::Cognito::UserPool").items():
        refs[f"{logical}.Arn"] = f"arn:aws:cognito-idp:{REGION}:{ACCOUNT_ID}:userpool/{pool}"
    return refs


def write_parameters(template: dict, stack: Stack, refs: dict[str, str]) -> None:
    """AWS::SSM::Parameter -> PutParameter, so the next stacks' references resolve. A value
    naming what exists only in AWS (the HTTP API, its authorizer) gets a stand-in: locally
    infra/apigw.py is the API."""
    ssm = client("ssm", stack.endpoint)
    for logical, res in template.get("Resources", {}).items():
        if res.get("Type") != "AWS::SSM::Parameter":
            continue
        props = res["Properties"]
        name = resolve(props["Name"], refs)
        try:
            value = str(resolve(props["Value"], refs))
        except (KeyError, SystemExit):
            value = f"local-stand-in-for-{logical}"
        ssm.put_parameter(Name=name, Value=value, Type=props.get("Type", "String"), Overwrite=True)
        stack.resources[logical] = {"type": "AWS::SSM::Parameter", "physicalId": name}
