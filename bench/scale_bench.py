"""Status at scale: a chunked map task of N children (default 1,000,000) through the real aggregator
handler against moto (in-process), at the fold and storage level. Run by hand; prints figures:

    .venv/bin/python bench/scale_bench.py [--children 1000000] [--max-concurrency K] [--chunk-size 10000]
                                          [--dup 0.05] [--no-outputs] [--seed 7]

The launcher is emulated: the launch record and each chunk's record are written as the launcher
writes them (docs/contracts.md), a chunk's record before its events; with ``--max-concurrency`` a
chunk's events start only once its "Task Chunk Due" was published. Each chunk's events (parent
PENDING, five per child, parent SUCCEEDED; ``--dup`` of them delivered twice) are generated a
block of children at a time, shuffled within the block, and delivered in Lambda batches of the
deployment's aggregator batch size.

Figures: events, write requests and items written (and per event), items in the partition,
the summary item's size in bytes (DynamoDB's limit is 400 KB), events per second through the
handler, "Task Chunk Due" published, and memory: the process's peak RSS (an upper bound: moto
keeps every item of the table in this process) and the handler's own peak (tracemalloc, over a
sample of Lambda batches and over the final phase change, which assembles the outputs). A run
that is cut short by ``--max-seconds`` prints the same figures for what it did and labels the
extrapolation to N children as such.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lambdas"), str(ROOT / "toolkit")]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "batchlane",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
)

from batchlane.common.chunks import Chunks  # noqa: E402 - after the sys.path and the environment Powertools reads at import
from batchlane.common.event_types import CHUNK_DUE  # noqa: E402 - after the sys.path and the environment Powertools reads at import
from batchlane.common.executions import (  # noqa: E402 - after the sys.path and the environment Powertools reads at import
    CHUNK_TAG,
    LAUNCH_TAG,
    PARTITION_KEY,
    SUBMITTED,
    SUMMARY_SK,
    TEAM_TAG,
    ChunkRecord,
    LaunchRecord,
    key,
    launch_key,
)
from batchlane.common.tenancy import LaunchData, s3_uri  # noqa: E402 - after the sys.path and the environment Powertools reads at import
from batchlane.sandbox.simulate import ChildPlan, child_events, job_event  # noqa: E402 - after the sys.path and the environment Powertools reads at import

LAUNCH = "L-scale"
TEAM, PROJECT, DOMAIN = "platform", "bench", "development"  # the launch's team (config/dev.yaml), project, domain
LAUNCH_KEY = launch_key(TEAM, LAUNCH)  # its partition of the executions table
DATA = LaunchData(TEAM, PROJECT, DOMAIN, LAUNCH)  # its keys in the data bucket
BLOCK = 100  # children whose events are generated (and shuffled) together
TRACED_EVERY = 200  # every how many Lambda batches the handler's memory is traced


def job_of(chunk: int) -> str:
    return f"{chunk:08x}-5ca1-4e00-8000-000000000000"


def launch_record(size: int, outputs_bucket: str | None, layout: Chunks | None = None, **fields) -> LaunchRecord:
    """The launcher's record of the bench launch (a map task of ``size``, chunked as ``layout``), its
    children's outputs in ``outputs_bucket`` (None: no outputs)."""
    if layout is not None:
        fields = {"chunk_size": layout.chunk_size, "chunk_count": layout.count, "chunk_window": layout.window} | fields
    return LaunchRecord(
        launch_id=LAUNCH,
        team=TEAM,
        project=PROJECT,
        domain=DOMAIN,
        state=SUBMITTED,
        job_name="scale",
        queue="q",
        size=size,
        is_array=True,
        is_map_task=True,
        job_id=job_of(0),
        outputs_uri=s3_uri(outputs_bucket, DATA.children_prefix) if outputs_bucket else None,
        **fields,
    )


def chunk_record(layout: Chunks, chunk: int) -> ChunkRecord:
    """The launcher's record of the bench launch's chunk ``chunk``, submitted as ``job_of(chunk)``."""
    return ChunkRecord(
        launch_id=LAUNCH,
        team=TEAM,
        chunk=chunk,
        offset=layout.offset(chunk),
        size=layout.chunk_len(chunk),
        state=SUBMITTED,
        job_name=f"scale-c{chunk}",
        queue="q",
        job_id=job_of(chunk),
    )


def chunk_events(chunk: int, layout: Chunks, rng: random.Random, dup: float):
    """One chunk's events, a block of children at a time (never all of them in memory)."""
    job, n = job_of(chunk), layout.chunk_len(chunk)
    tags = {LAUNCH_TAG: LAUNCH, TEAM_TAG: TEAM, CHUNK_TAG: str(chunk)}
    if n > 1:
        yield [job_event(job_id=job, status="PENDING", size=n, tags=tags, status_summary={"SUBMITTED": n})]
    for start in range(0, n, BLOCK):
        block = [
            e
            for i in range(start, min(start + BLOCK, n))
            for e in child_events(job, i, ChildPlan(pending=True), is_array=n > 1, tags=tags)
        ]
        block += rng.sample(block, int(len(block) * dup))
        rng.shuffle(block)
        yield block
    if n > 1:
        yield [
            job_event(
                job_id=job,
                status="SUCCEEDED",
                size=n,
                tags=tags,
                status_summary={"SUCCEEDED": n},
                time_ms=1_800_000_000_000,
            )
        ]


def summary_phase(table) -> str | None:
    item = table.get_item(Key=key(LAUNCH_KEY, SUMMARY_SK), ConsistentRead=True).get("Item") or {}
    return item.get("phase")


class _Context:
    function_name = "bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def item_bytes(item: dict) -> int:
    from boto3.dynamodb.types import TypeSerializer

    from batchlane.common.values import to_dynamo

    ser = TypeSerializer()
    return len(json.dumps({k: ser.serialize(v) for k, v in to_dynamo(item).items()}).encode())


class _GeneratedChildren:
    """A store whose N child items are made as they are read (the finisher's paged reads, no moto)."""

    def __init__(self, size: int, failed_every: int, layout: Chunks | None = None) -> None:
        self.size, self.failed_every, self.layout = size, failed_every, layout

    def get_chunk(self, launch_key: str, chunk: int) -> ChunkRecord | None:
        """The launcher's record of the chunk (its job owns the chunk's part)."""
        return chunk_record(self.layout, chunk) if self.layout is not None else None

    def chunk_records(self, launch_key: str):
        return (chunk_record(self.layout, c) for c in range(self.layout.count if self.layout else 0))

    def iter_children(self, launch_key: str, size: int):
        from batchlane.status.states import Attempt, ChildState

        for i in range(self.size):
            failed = self.failed_every and i % self.failed_every == 0
            yield ChildState(
                i,
                "FAILED" if failed else "SUCCEEDED",
                1,
                "Essential container in task exited",
                attempts=(Attempt(exit_code=1 if failed else 0),),
            )


class _GeneratedOutputs:
    """Child i's outputs made on read; the assembled document consumed part by part (bytes counted)."""

    def __init__(self) -> None:
        self.bytes = 0
        self.reads = 0
        self.parts: dict[str, bytes] = {}

    def read_many(self, uris):
        self.reads += len(uris)
        return {i: {"y": i, "name": f"item-{i}"} for i in uris}

    def write_stream(self, uri, parts) -> None:
        for part in parts:
            self.bytes += len(part)

    # A chunked map task's parts (status.finish), kept here.
    def read_bytes(self, uri):
        return self.parts.get(uri)

    def write_bytes(self, uri, body) -> None:
        self.parts[uri] = body


def _traced(call):
    tracemalloc.start()
    t = time.perf_counter()
    result = call()
    elapsed = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, elapsed, peak


def assemble_at_scale(size: int, chunk_size: int) -> None:
    """The finisher's error summary and outputs assembly over ``size`` children (ports generated):
    one map task of ``size`` read child by child (a failed one: one in 1,000 children failed), and
    the chunked map task that succeeded, whose chunks kept their parts as they ended."""
    from batchlane.status.finish import Finisher

    outputs = _GeneratedOutputs()
    launch = launch_record(size, "data")
    generated = _GeneratedChildren(size, failed_every=1000)
    finisher = Finisher(generated, generated, outputs, "data", log=None)
    fields, elapsed, peak = _traced(lambda: finisher.finish(launch, "failed"))
    print(
        f"assembly at scale     : {size} children ({size // 1000} failed), {outputs.reads} outputs read, "
        f"{outputs.bytes / 2**20:.1f} MiB of outputs.json streamed in {elapsed:.1f}s; peak {peak / 2**20:.1f} MiB "
        f"(tracemalloc); error summary {len(fields.get('error', ''))} chars"
    )

    layout = Chunks.layout(size, chunk_size)
    chunked = launch.model_copy(
        update={"chunk_size": layout.chunk_size, "chunk_count": layout.count, "chunk_window": layout.window}
    )
    outputs = _GeneratedOutputs()
    generated = _GeneratedChildren(size, failed_every=0, layout=layout)
    finisher = Finisher(generated, generated, outputs, "data", log=None)
    slowest, chunk_peak = 0.0, 0
    for c in range(layout.count):
        _, elapsed, peak = _traced(lambda c=c: finisher.assemble_chunk(chunked, c))
        slowest, chunk_peak = max(slowest, elapsed), max(chunk_peak, peak)
    chunk_reads, outputs.reads = outputs.reads, 0
    _, elapsed, peak = _traced(lambda: finisher.finish(chunked, "succeeded", {"FAILED": 0}))
    print(
        f"chunked assembly      : {layout.count} chunks of {layout.chunk_size}: each chunk's part at its end "
        f"(slowest {slowest:.2f}s, peak {chunk_peak / 2**20:.1f} MiB; {chunk_reads} outputs read in all), then "
        f"the finish merged {len(outputs.parts)} parts ({sum(map(len, outputs.parts.values())) / 2**20:.1f} MiB) "
        f"with {outputs.reads} outputs read, {outputs.bytes / 2**20:.1f} MiB streamed in {elapsed:.1f}s; "
        f"peak {peak / 2**20:.1f} MiB (tracemalloc)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--children", type=int, default=1_000_000)
    ap.add_argument("--chunk-size", type=int, default=10_000, help="maxArraySize")
    ap.add_argument("--max-concurrency", type=int, default=None)
    ap.add_argument("--dup", type=float, default=0.05, help="share of events delivered twice")
    ap.add_argument("--no-outputs", action="store_true", help="no child outputs (nothing assembled)")
    ap.add_argument("--max-seconds", type=float, default=3600, help="stop delivering after this long")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--moto-as-is",
        action="store_true",
        help="without the sandbox's item-level transaction rollback (batchlane.sandbox.moto_speedups)",
    )
    ap.add_argument(
        "--assemble",
        type=int,
        default=0,
        metavar="N",
        help="only the outputs' assembly and error summary of N children (generated ports, no moto)",
    )
    ap.add_argument(
        "--limits",
        action="store_true",
        help="a sample through the handler with DynamoDB's limits metered, then N children at AWS's limits "
        "(bench/scale_limits.py)",
    )
    ap.add_argument("--sample", type=int, default=5_000, help="with --limits: children run through the handler")
    ap.add_argument("--together", action="store_true", help="with --limits: a child's events in one Lambda batch")
    args = ap.parse_args()
    if args.limits:
        import scale_limits  # type: ignore[import-not-found]

        return scale_limits.run(args)
    if args.assemble:
        return assemble_at_scale(args.assemble, args.chunk_size)

    import boto3
    from moto import mock_aws

    from batchlane.common import aws
    from batchlane.deployment.config import load_config
    from batchlane.sandbox.provision import provision
    from batchlane.status import handler as aggregator

    if not args.moto_as_is:
        from batchlane.sandbox import moto_speedups

        moto_speedups.install()  # the emulator's cost per transaction, not batchlane's: see that module
    layout = Chunks.layout(args.children, args.chunk_size, args.max_concurrency)
    config = load_config("dev")
    rng = random.Random(args.seed)
    with mock_aws(config={"batch": {"use_docker": False}}):
        aws.reset_clients()
        deployment = provision(config)
        for k, v in deployment.function_environment().items():
            os.environ[k] = v
        aggregator.runtime.cache_clear()
        table = boto3.resource("dynamodb").Table(config.table_name("executions"))
        from batchlane.common.values import to_dynamo

        outputs_uri = None if args.no_outputs else deployment.bucket
        launch = launch_record(
            args.children, outputs_uri, layout, region="us-east-1", max_concurrency=args.max_concurrency
        )
        table.put_item(Item=to_dynamo(launch.to_item()))
        service = aggregator.runtime()
        store = service.store
        due: list[int] = []
        publish = service.phases.announcer.publish

        def counting(detail_type, detail):
            if detail_type == CHUNK_DUE:
                due.append(detail["chunk"])
            publish(detail_type, detail)

        service.phases.announcer.publish = counting
        s3 = boto3.client("s3")
        batch_size = config.aggregator.batch_size
        pending = list(layout.initial)  # chunks the emulated launcher has submitted, not yet delivered
        submitted = set(pending)
        events = batches = handler_peak = 0
        handler_time = 0.0
        started = time.perf_counter()
        cut = False
        print(
            f"layout: {layout.size} children, {layout.count} chunks of {layout.chunk_size}, "
            f"{layout.window} in flight; Lambda batches of {batch_size}"
        )
        while pending and not cut:
            chunk = pending.pop(0)
            table.put_item(Item=to_dynamo(chunk_record(layout, chunk).to_item()))
            if outputs_uri:
                for i in range(layout.offset(chunk), layout.offset(chunk) + layout.chunk_len(chunk)):
                    s3.put_object(
                        Bucket=deployment.bucket,
                        Key=f"{DATA.children_prefix}{i}/outputs.json",
                        Body=b'{"y":%d}' % i,
                    )
            for block in chunk_events(chunk, layout, rng, args.dup):
                for k in range(0, len(block), batch_size):
                    records = block[k : k + batch_size]
                    body = {
                        "Records": [
                            {
                                "messageId": f"m{events + i}",
                                "body": json.dumps(e),
                                "attributes": {},
                                "eventSource": "aws:sqs",
                            }
                            for i, e in enumerate(records)
                        ]
                    }
                    traced = batches % TRACED_EVERY == 0
                    if traced:
                        tracemalloc.start()
                    t = time.perf_counter()
                    with contextlib.redirect_stdout(io.StringIO()):  # the EMF metric lines
                        assert aggregator.handler(body, _Context())["batchItemFailures"] == []
                    handler_time += time.perf_counter() - t
                    if traced:
                        handler_peak = max(handler_peak, tracemalloc.get_traced_memory()[1])
                        tracemalloc.stop()
                    events += len(records)
                    batches += 1
                if time.perf_counter() - started > args.max_seconds:
                    cut = True
                    break
            for c in due:  # the launcher's side: a due chunk is submitted
                if c not in submitted:
                    submitted.add(c)
                    pending.append(c)
        # The final phase change's heavy part, measured alone: the error summary and the outputs of
        # every child, assembled in index order (streamed).
        finish_seconds, finish_peak = 0.0, 0
        if summary_phase(table) in ("succeeded", "failed"):
            tracemalloc.start()
            t = time.perf_counter()
            fields = service.phases.finisher.finish(store.get_launch(LAUNCH_KEY), summary_phase(table))
            finish_seconds = time.perf_counter() - t
            finish_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            handler_peak = max(handler_peak, finish_peak)
            if outputs_uri:
                got = json.loads(s3.get_object(Bucket=deployment.bucket, Key=DATA.assembled_key)["Body"].read())
                assert got["y"] == list(range(args.children)), "outputs out of order"
                print(
                    f"outputs assembled     : {args.children} values in index order, {finish_seconds:.1f}s, "
                    f"peak {finish_peak / 2**20:.1f} MiB ({fields.get('outputsUri')})"
                )
        summary = table.get_item(Key=key(LAUNCH_KEY, SUMMARY_SK), ConsistentRead=True)["Item"]
        elapsed = time.perf_counter() - started
        done_children = sum(int(summary.get(f"n_{s}", 0)) for s in ("SUCCEEDED",))
        print(
            f"events delivered      : {events} in {batches} Lambda batches ({elapsed:.1f}s wall, "
            f"{handler_time:.1f}s in the handler)"
        )
        print(f"events per second     : {events / handler_time:,.0f} through the handler (moto in-process)")
        print(f"write requests        : {store.write_requests} = {store.write_requests / events:.3f} per event")
        print(f"items written         : {store.items_written} = {store.items_written / events:.3f} per event")
        count = 0
        from boto3.dynamodb.conditions import Key

        kwargs = {"KeyConditionExpression": Key(PARTITION_KEY).eq(LAUNCH_KEY), "Select": "COUNT"}
        while True:
            page = table.query(**kwargs)
            count += page["Count"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        print(
            f"items in the partition: {count} "
            f"(children {done_children} succeeded, chunk records, parents, launch, status)"
        )
        print(
            f"summary item          : {item_bytes(summary)} bytes (DynamoDB's limit: 409,600); "
            f"phase {summary.get('phase')}"
        )
        print(f"Task Chunk Due        : {len(due)} published ({len(set(due))} distinct)")
        print(
            f"handler memory peak   : {handler_peak / 2**20:.1f} MiB (tracemalloc, every {TRACED_EVERY}th batch"
            " and the outputs' assembly; Lambda's limit here: 512 MB)"
        )
        print(
            f"process peak RSS      : {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
            "(includes moto's copy of every item)"
        )
        if cut:
            share = done_children / args.children
            print(
                f"CUT SHORT after {args.max_seconds:.0f}s at {share:.1%} of the children; EXTRAPOLATED to "
                f"{args.children}: {elapsed / max(share, 1e-9) / 3600:.1f} h at this rate"
            )


if __name__ == "__main__":
    main()
