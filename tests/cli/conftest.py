"""Run the CLI in-process against a routing table in moto."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from batchlane.cli.main import main

TABLE = "batchlane-dev-routing"
CONFIGS = Path(__file__).resolve().parents[1] / "unit" / "routing" / "configs"


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys):
    """cli("routes", "list") -> Result(code, out, err)."""

    def run(*argv: str) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def aws():
    with mock_aws():
        yield


@pytest.fixture(scope="session")
def boto_session():
    return boto3.session.Session(region_name="us-east-1")  # models loaded once for every test


@pytest.fixture
def table(aws, boto_session):
    """The deployment's routing table (key schema pk/sk), empty."""
    ddb = boto_session.resource("dynamodb")
    created = ddb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
    )
    return created


@pytest.fixture
def stored(table):
    """stored() -> the routing table's items now, {sk: item}."""
    return lambda: {item["sk"]: item for item in table.scan(ConsistentRead=True)["Items"]}


@pytest.fixture
def configs() -> Path:
    return CONFIGS


@pytest.fixture
def unused_endpoint() -> str:
    """An http URL on localhost where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
