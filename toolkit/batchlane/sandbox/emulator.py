"""The embedded AWS emulator: a moto server in this process, on 127.0.0.1 and a free port."""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from contextlib import contextmanager
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox", "AWS_SESSION_TOKEN": "sandbox"}


class Emulator:
    """``ThreadedMotoServer`` configured as batchlane needs it (Batch without Docker)."""

    def __init__(self, region: str = "us-east-1", port: int = 0) -> None:
        self.region = region
        self.port = port
        self._server: ThreadedMotoServer | None = None
        self.endpoint: str | None = None

    def start(self) -> Emulator:
        from moto.server import ThreadedMotoServer

        from batchlane.sandbox import moto_speedups

        moto_speedups.install()  # transactions that cost the items they touch, not the table
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
        server = self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        # moto's state is global to the process: start from scratch (one sandbox per process at a time).
        self._post("/moto-api/reset", b"")
        self._post("/moto-api/config", json.dumps({"batch": {"use_docker": False}}).encode())
        return self

    def _post(self, path: str, body: bytes) -> None:
        request = urllib.request.Request(
            f"{self.endpoint}{path}", method="POST", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def session(self) -> boto3.session.Session:
        """A boto3 session whose clients talk to the emulator (pass ``endpoint_url``)."""
        return boto3.session.Session(
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",
            aws_session_token="sandbox",
            region_name=self.region,
        )

    def client(self, service: str):
        return self.session().client(service, endpoint_url=self.endpoint)

    def environment(self) -> dict[str, str]:
        """What a process needs to talk to the emulator (the CLI, boto3, the handlers)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint or "",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **FAKE_CREDENTIALS,
        }


class EndpointSession(boto3.session.Session):
    """A session whose clients and resources default to one endpoint (for provision())."""

    def __init__(self, endpoint: str, region: str) -> None:
        super().__init__(
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",
            aws_session_token="sandbox",
            region_name=region,
        )
        self._endpoint = endpoint

    def client(self, *args, **kwargs):
        kwargs.setdefault("endpoint_url", self._endpoint)
        return super().client(*args, **kwargs)

    def resource(self, *args, **kwargs):
        kwargs.setdefault("endpoint_url", self._endpoint)
        return super().resource(*args, **kwargs)


@contextmanager
def patched_environ(values: dict[str, str]):
    """Set environment variables for the duration, then put back what was there."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
