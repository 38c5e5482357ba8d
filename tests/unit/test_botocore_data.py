"""botocore's data trimmed to Parley's services (layers/botocore_data.py) sends every request where botocore's
full data would, signed the same way, and is used only with the botocore version it was made from."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import botocore
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

import shared.storage.aws

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("botocore_data", REPO_ROOT / "layers" / "botocore_data.py")
botocore_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(botocore_data)

# One region per partition, and the variants that change an endpoint.
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1", "us-iso-east-1")
VARIANTS = ({}, {"use_fips_endpoint": True}, {"use_dualstack_endpoint": True})
CALLS = {
    "dynamodb": ("get_item", {"TableName": "t", "Key": {"k": {"S": "v"}}}),
    "dynamodbstreams": ("list_streams", {}),
    "secretsmanager": ("get_secret_value", {"SecretId": "s"}),
    "s3": ("get_object", {"Bucket": "parley-search", "Key": "u/main"}),
    "apigatewaymanagementapi": ("post_to_connection", {"ConnectionId": "c", "Data": b"x"}),
}


@pytest.fixture(scope="module")
def trimmed(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("botocore") / "data"
    botocore_data.write(Path(botocore.__file__).parent / "data", out, botocore.__version__)
    return str(out)


@pytest.fixture(autouse=True)
def no_endpoint_settings(monkeypatch):
    """Endpoint overrides from the environment (the tests' moto) would hide what the data decides."""
    import os

    for name in list(os.environ):
        if name.startswith(("AWS_ENDPOINT_URL", "AWS_USE_FIPS", "AWS_USE_DUALSTACK", "AWS_DATA_PATH")):
            monkeypatch.delenv(name)


def _sent(session, service: str, region: str, variant: dict) -> tuple[str, str] | str:
    """Where the call's request goes and the scope it is signed for (or why no client could be made)."""
    endpoint = {"endpoint_url": "https://abc.execute-api.us-east-1.amazonaws.com/prod"}
    try:
        client = session.create_client(
            service, region_name=region, aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
            config=Config(**variant), **(endpoint if service == "apigatewaymanagementapi" else {}),
        )
    except Exception as error:  # the same refusal from both is fine (a variant a partition lacks)
        return f"client: {type(error).__name__}"
    seen = {}

    def capture(request, **_):
        seen["url"] = request.url
        seen["scope"] = re.search(r"Credential=[^/]+/[0-9]+/([^,]+),", request.headers["Authorization"].decode())[1]
        return AWSResponse(request.url, 400, {}, None)  # stops the call before the network

    client.meta.events.register("before-send", capture)
    operation, params = CALLS[service]
    try:
        getattr(client, operation)(**params)
    except Exception as error:
        if "url" not in seen:
            return f"call: {type(error).__name__}"
    return seen["url"], seen["scope"]


@pytest.mark.parametrize("service", botocore_data.SERVICES)
def test_every_request_goes_where_botocore_full_data_sends_it(trimmed, service):
    full = botocore.session.Session()
    ours = botocore.session.Session()
    ours.register_component("data_loader", shared.storage.aws._TrimmedDataLoader(trimmed))
    for region in REGIONS:
        for variant in VARIANTS:
            expected = _sent(full, service, region, variant)
            assert _sent(ours, service, region, variant) == expected, (service, region, variant)


@pytest.mark.parametrize("service", botocore_data.SERVICES)
def test_the_models_differ_only_in_documentation(trimmed, service):
    full = botocore.session.Session().get_service_model(service)
    ours = botocore.session.Session()
    ours.register_component("data_loader", shared.storage.aws._TrimmedDataLoader(trimmed))
    model = ours.get_service_model(service)
    assert model.api_version == full.api_version and model.metadata == full.metadata
    assert model.operation_names == full.operation_names
    assert model._shape_resolver._shape_map == botocore_data.without_documentation(full._service_description)["shapes"]
    assert botocore_data.without_documentation(full._service_description) == model._service_description


def test_other_services_are_refused_rather_than_guessed(trimmed):
    from botocore.exceptions import UnknownServiceError

    ours = botocore.session.Session()
    ours.register_component("data_loader", shared.storage.aws._TrimmedDataLoader(trimmed))
    with pytest.raises(UnknownServiceError):
        ours.create_client("sqs", region_name="us-east-1")


def test_every_client_the_code_makes_is_a_trimmed_service():
    code = [*(REPO_ROOT / "shared").rglob("*.py"), *(REPO_ROOT / "infra" / "local").rglob("*.py")]
    made = {name for path in code for name in re.findall(r"create_client\(\s*\"([a-z0-9-]+)\"", path.read_text())}
    assert made and made <= set(botocore_data.SERVICES) | {"dynamodb"}, made - set(botocore_data.SERVICES)


def test_a_copy_made_from_another_botocore_version_is_not_used(tmp_path, monkeypatch):
    copy = tmp_path / "parley_botocore_data"
    copy.mkdir()
    monkeypatch.setattr(shared.storage.aws, "_TRIMMED_DATA", str(copy))
    assert shared.storage.aws.trimmed_data_path() is None  # none made
    (copy / "BOTOCORE_VERSION").write_text("1.0.0\n")
    assert shared.storage.aws.trimmed_data_path() is None
    (copy / "BOTOCORE_VERSION").write_text(botocore.__version__ + "\n")
    assert shared.storage.aws.trimmed_data_path() == str(copy)


def test_in_the_layer_botocores_own_data_trimmed_in_place_is_found(tmp_path, monkeypatch):
    """The dependencies layer has no copy next to botocore: its data directory is the trimmed data (with
    BOTOCORE_VERSION), and the session treats it as it treats the local copy."""
    in_place = tmp_path / "data"
    in_place.mkdir()
    (in_place / "BOTOCORE_VERSION").write_text(botocore.__version__ + "\n")
    monkeypatch.setattr(shared.storage.aws, "_TRIMMED_DATA", str(tmp_path / "parley_botocore_data"))
    monkeypatch.setattr(shared.storage.aws, "_BOTOCORE_DATA", str(in_place))
    assert shared.storage.aws.trimmed_data_path() == str(in_place)


def test_the_layer_replaces_its_botocore_data_with_the_trimmed_copy(tmp_path):
    package = tmp_path / "botocore"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("__version__ = '9.9.9'\n")
    source = Path(botocore.__file__).parent / "data"
    for name in ("endpoints.json", "partitions.json", "sdk-default-configuration.json", "_retry.json"):
        (package / "data" / name).write_bytes((source / name).read_bytes())
    for service in botocore_data.SERVICES:
        version = botocore_data.latest_api_version(source, service)
        target = package / "data" / service / version
        target.mkdir(parents=True)
        for file in (source / service / version).iterdir():
            (target / file.name).write_bytes(file.read_bytes())
    (package / "data" / "sqs").mkdir()
    botocore_data.replace_in_place(package)
    assert sorted(p.name for p in (package / "data").iterdir() if p.is_dir()) == sorted(botocore_data.SERVICES)
    assert (package / "data" / "BOTOCORE_VERSION").read_text().strip() == "9.9.9"
