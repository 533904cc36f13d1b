"""flytekit's own gRPC connector service (what ``pyflyte serve connector`` serves), in process on a
free localhost port, and a stub to call it (tests/flyte/propeller.py calls it as propeller does)."""

from __future__ import annotations

import asyncio
import threading

import grpc
from flyteidl.service.agent_pb2_grpc import AsyncAgentServiceStub, add_AsyncAgentServiceServicer_to_server
from flytekit.extend.backend.connector_service import AsyncConnectorService

import batchlane.flyte.connector  # noqa: F401 - the import registers the connectors, as --modules does


class ConnectorServer:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0
        self.channel = None
        self.stub = None

    def __enter__(self) -> ConnectorServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        self.channel = grpc.insecure_channel(f"localhost:{self.port}")
        self.stub = AsyncAgentServiceStub(self.channel)
        return self

    async def _start(self) -> None:
        self.server = grpc.aio.server()
        add_AsyncAgentServiceServicer_to_server(AsyncConnectorService(), self.server)
        self.port = self.server.add_insecure_port("localhost:0")
        await self.server.start()

    def __exit__(self, *exc) -> None:
        self.channel.close()
        asyncio.run_coroutine_threadsafe(self.server.stop(0), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
