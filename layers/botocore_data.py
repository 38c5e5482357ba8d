"""botocore's data trimmed to the services Parley calls: what a cold start reads instead of all of it.

    python layers/botocore_data.py          # next to this Python's botocore (infra/bootstrap.sh runs it)

A fresh botocore session reads botocore's data on its first client: it lists every service directory
(~420, to check the name asked for exists), parses endpoints.json (1.3 MB: every service's endpoints)
and the service's model, documentation included. Trimmed, that is ~40 ms less CPU on every cold start
that makes a client. What is kept is botocore's own data, unchanged but for what no request uses:

- endpoints.json: every partition whole, with the `services` entries of Parley's services only;
- per service, its latest API version: the model without its documentation strings (whitespace
  removed too), and the endpoint rule set, the SDK extras, paginators and waiters as they are;
- partitions.json, sdk-default-configuration.json, _retry.json as they are.

Where it is used: the dependencies layer replaces its botocore's data directory with it (layers/build.py
dependencies); locally, shared/storage/aws.py reads it from `parley_botocore_data` next to the venv's botocore
when it was made from that very botocore version (`BOTOCORE_VERSION` inside), else botocore's own data.
Standard library only.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

# Every service a client is made for (all through shared.storage.aws.botocore_session): the functions' DynamoDB,
# management API, Secrets Manager and S3 (search indexes), and `parley local`'s DynamoDB Streams reader.
# A client for any other service fails with UnknownServiceError until it is added here.
SERVICES = ("dynamodb", "dynamodbstreams", "apigatewaymanagementapi", "secretsmanager", "s3")
VERSION_FILE = "BOTOCORE_VERSION"
SIBLING_NAME = "parley_botocore_data"  # the local copy's directory, next to the `botocore` package
_TOP_LEVEL = ("partitions", "sdk-default-configuration", "_retry")
_KEPT_AS_IS = ("endpoint-rule-set-1", "service-2.sdk-extras", "endpoint-rule-set-1.sdk-extras", "paginators-1",
               "waiters-2", "paginators-1.sdk-extras")


def write(source: Path, out: Path, version: str, services: tuple[str, ...] = SERVICES) -> None:
    """Writes the trimmed copy of the botocore data directory `source` (botocore `version`) to `out`."""
    out.mkdir(parents=True, exist_ok=True)
    prefixes = set()
    for service in services:
        api_version = latest_api_version(source, service)
        model = _load(source / service / api_version / "service-2")
        prefixes.add(model["metadata"]["endpointPrefix"])
        _dump(out / service / api_version / "service-2.json", without_documentation(model))
        for name in _KEPT_AS_IS:
            if (data := _load(source / service / api_version / name, missing_ok=True)) is not None:
                _dump(out / service / api_version / f"{name}.json", data)
    endpoints = _load(source / "endpoints")
    for partition in endpoints["partitions"]:
        partition["services"] = {name: entry for name, entry in partition["services"].items() if name in prefixes}
    _dump(out / "endpoints.json", endpoints)
    for name in _TOP_LEVEL:
        _dump(out / f"{name}.json", _load(source / name))
    (out / VERSION_FILE).write_text(version + "\n")


def latest_api_version(source: Path, service: str) -> str:
    """What botocore's loader picks: the greatest API version that has a model."""
    versions = [d.name for d in (source / service).iterdir() if _exists(d / "service-2")]
    if not versions:
        raise SystemExit(f"layers/botocore_data.py: no model for {service!r} in {source}")
    return max(versions)


def without_documentation(model: dict) -> dict:
    """The model minus its documentation traits (only where they are traits, never a member's name)."""
    model = json.loads(json.dumps(model))
    _drop_docs(model)
    _drop_docs(model.get("metadata", {}))
    for operation in model.get("operations", {}).values():
        _drop_docs(operation)
        for key in ("input", "output"):
            _drop_docs(operation.get(key, {}))
        for error in operation.get("errors", []):
            _drop_docs(error)
    for shape in model.get("shapes", {}).values():
        _drop_docs(shape)
        for member in shape.get("members", {}).values():
            _drop_docs(member)
        for key in ("member", "key", "value"):
            if isinstance(shape.get(key), dict):
                _drop_docs(shape[key])
    return model


def _drop_docs(node: dict) -> None:
    node.pop("documentation", None)
    node.pop("documentationUrl", None)


def _exists(base: Path) -> bool:
    return base.with_name(base.name + ".json").is_file() or base.with_name(base.name + ".json.gz").is_file()


def _load(base: Path, missing_ok: bool = False):
    for suffix, opener in ((".json", open), (".json.gz", gzip.open)):
        path = base.with_name(base.name + suffix)
        if path.is_file():
            with opener(path, "rb") as file:
                return json.loads(file.read().decode("utf-8"))
    if missing_ok:
        return None
    raise SystemExit(f"layers/botocore_data.py: {base}.json is missing")


def _dump(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")


def replace_in_place(botocore_dir: Path) -> None:
    """botocore_dir/data becomes the trimmed copy (the dependencies layer's own botocore)."""
    trimmed = botocore_dir / "data.trimmed"
    shutil.rmtree(trimmed, ignore_errors=True)
    write(botocore_dir / "data", trimmed, package_version(botocore_dir))
    shutil.rmtree(botocore_dir / "data")
    trimmed.rename(botocore_dir / "data")


def package_version(botocore_dir: Path) -> str:
    """The version of the botocore package in `botocore_dir`, without importing it."""
    for line in (botocore_dir / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("'\"")
    raise SystemExit(f"layers/botocore_data.py: no __version__ in {botocore_dir}/__init__.py")


def write_next_to_installed_botocore() -> Path:
    """The local copy, made from this Python's botocore, unless it is there already for its version."""
    import botocore

    package = Path(botocore.__file__).parent
    out = package.parent / SIBLING_NAME
    if (out / VERSION_FILE).is_file() and (out / VERSION_FILE).read_text().strip() == botocore.__version__:
        return out
    shutil.rmtree(out, ignore_errors=True)
    staging = out.with_name(SIBLING_NAME + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    write(package / "data", staging, botocore.__version__)
    staging.rename(out)
    return out


def main() -> None:
    write_next_to_installed_botocore()


if __name__ == "__main__":
    main()
