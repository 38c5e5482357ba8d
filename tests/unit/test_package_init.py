"""Powertools loads part by part (shared/package_init.py): a function that counts a metric loads Metrics
alone, its lines and AWS requests are what they were with all of Powertools imported at init."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]


def _fresh_process(code: str) -> str:
    """This process imported Powertools already: a fresh one starts as Lambda's does."""
    env = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_METRICS_DISABLED": "false", "POWERTOOLS_SERVICE_NAME": "parley"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_count_loads_metrics_alone_and_writes_its_emf_line_and_logging_still_loads_all_of_powertools():
    out = _fresh_process("""
import sys
from shared import metrics
metrics.count(metrics.PUSHES_SENT, 2)
metrics.flush()
loaded = sorted({name.split(".")[1] for name in sys.modules if name.startswith("aws_lambda_powertools.")})
print(loaded)
from shared.log import logger
logger.warning("now the logger")
import aws_lambda_powertools
print(aws_lambda_powertools.Tracer.__name__, aws_lambda_powertools.__version__ is not None)
""")
    emf, loaded, line, rest = out.splitlines()
    assert json.loads(emf)["PushesSent"] == [2.0] or json.loads(emf)["PushesSent"] == 2.0
    assert "logging" not in loaded and "tracing" not in loaded and "metrics" in loaded
    assert json.loads(line)["message"] == "now the logger" and json.loads(line)["service"] == "parley"
    assert rest == "Tracer True"


def test_aws_requests_carry_powertools_user_agent_once_though_powertools_loads_after_the_session():
    out = _fresh_process("""
import sys
from botocore.awsrequest import AWSResponse
from shared.storage.aws import botocore_session
client = botocore_session().create_client("dynamodb", "us-east-1", endpoint_url="http://127.0.0.1:9")
agents = []
class Raw:
    def stream(self, **kwargs):
        yield b"{}"
def answer(request, **kwargs):
    agents.append(request.headers["User-Agent"].decode() if isinstance(request.headers["User-Agent"], bytes)
                  else request.headers["User-Agent"])
    return AWSResponse(request.url, 200, {}, Raw())
client.meta.events.register("before-send", answer)
client.list_tables()
print("aws_lambda_powertools.logging" in sys.modules)
print(agents[0])
""")
    logging_loaded, agent = out.splitlines()
    assert logging_loaded == "False"
    assert agent.count(" PT/no-op/") == 1, agent


def test_the_shared_botocore_session_calls_botocores_own_handlers_for_every_operation_of_parleys_services():
    """shared/storage/aws.py registers botocore's built-in handlers for the trimmed data's services only: for any
    event of theirs, the same handlers, in the same order, as a session of botocore's own."""
    import botocore.handlers
    import botocore.session

    from shared.storage.aws import _SharedSession, _trimmed_services, trimmed_data_path

    path = trimmed_data_path()
    if path is None:
        pytest.skip("no trimmed botocore data (layers/botocore_data.py) next to this botocore")
    ours, stock = _SharedSession(), botocore.session.Session()
    stages = {spec[0].split(".")[0] for spec in botocore.handlers.BUILTIN_HANDLERS} - {"docs"}
    stages |= {"before-send", "after-call-error", "needs-retry", "before-sign", "request-created", "provide-client-params"}
    checked = 0
    for service in sorted(_trimmed_services(path)):
        operations = ["*", "GetObject", "PutObject", "ListObjectsV2", "GetItem", "Query", "TransactWriteItems",
                      "PostToConnection", "GetSecretValue", "GetRecords", "CopyObject", "DeleteObjects"]
        for stage in sorted(stages):
            for event in (stage, f"{stage}.{service}", *(f"{stage}.{service}.{op}" for op in operations)):
                handlers = [[getattr(h, "__qualname__", type(h).__qualname__) for h in  # initializers make closures
                             s._events._emitter._handlers.prefix_search(s._events._alias_event_name(event))]
                            for s in (ours, stock)]
                assert handlers[0] == handlers[1], event
                checked += bool(handlers[0])
    assert checked > 100


def test_the_trimmed_data_loads_as_botocore_would_load_it():
    """shared/storage/aws.py parses botocore's data into plain dicts (faster): the same data, in the same order."""
    import botocore.loaders

    from shared.storage.aws import _TrimmedDataLoader, trimmed_data_path

    path = trimmed_data_path()
    if path is None:
        pytest.skip("no trimmed botocore data (layers/botocore_data.py) next to this botocore")
    ours, stock = _TrimmedDataLoader(path), botocore.loaders.Loader(extra_search_paths=[path])
    files = [str(p.with_suffix("")) for p in Path(path).rglob("*.json")]
    assert len(files) > 10
    for name in files:
        assert json.dumps(ours.file_loader.load_file(name)) == json.dumps(stock.file_loader.load_file(name)), name
    for service in ("dynamodb", "s3", "apigatewaymanagementapi"):
        assert ours.load_service_model(service, "service-2") == stock.load_service_model(service, "service-2")
