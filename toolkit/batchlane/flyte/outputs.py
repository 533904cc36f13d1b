"""Where the jobs' outputs and errors are, and what propeller reads (pure but for the S3 client given).

pyflyte-execute writes ``outputs.pb`` (or ``error.pb``, an ``ErrorDocument``) under its
``--output-prefix``: ``<outputPrefix>/0`` for an aws-batch task (its command says so), and
``<outputPrefix>/<i>`` for child i of a container_array task. Propeller's connector plugin reads
``<outputPrefix>/outputs.pb`` when GetTask returns no outputs (``plugin.go`` ``writeOutput``: "file
based outputs"), so the connector leaves them there, as Flyte's Batch plugin assembles them
(``flyteplugins/go/tasks/plugins/array/outputs.go``): a single job's outputs as they are; a map's
as one list per output, in index order, ``None`` for a child that did not succeed. Nothing large
travels in a gRPC answer (4 MiB by default).
"""

from __future__ import annotations

from flyteidl.core import errors_pb2, literals_pb2

OUTPUTS = "outputs.pb"
ERROR = "error.pb"
_NONE = literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))


def s3_location(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def child_prefix(output_prefix: str, index: int) -> str:
    return f"{output_prefix}/{index}"


def _read(s3, uri: str) -> bytes | None:
    bucket, key = s3_location(uri)
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None


def _write(s3, uri: str, body: bytes) -> None:
    bucket, key = s3_location(uri)
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def read_literal_map(s3, uri: str) -> literals_pb2.LiteralMap | None:
    body = _read(s3, uri)
    if body is None:
        return None
    message = literals_pb2.LiteralMap()
    message.ParseFromString(body)
    return message


def gathered(children: list[literals_pb2.LiteralMap | None], names: list[str]) -> literals_pb2.LiteralMap:
    """One list per output, in index order, ``None`` for a child without outputs (Flyte's array
    plugin: ``appendSubTaskOutput`` / ``appendEmptyOutputs``)."""
    collections = {name: literals_pb2.LiteralCollection() for name in names}
    for child in children:
        for name, collection in collections.items():
            literal = child.literals[name] if child is not None and name in child.literals else _NONE
            collection.literals.append(literal)
    return literals_pb2.LiteralMap(
        literals={name: literals_pb2.Literal(collection=c) for name, c in collections.items()}
    )


def leave_outputs(s3, output_prefix: str, size: int, is_array: bool, output_names: list[str]) -> None:
    """Write ``<outputPrefix>/outputs.pb`` for propeller to read: the job's own (from ``/0``), or the
    children's gathered."""
    if not is_array:
        body = _read(s3, f"{child_prefix(output_prefix, 0)}/{OUTPUTS}")
        if body is not None:
            _write(s3, f"{output_prefix}/{OUTPUTS}", body)
        return
    children = [read_literal_map(s3, f"{child_prefix(output_prefix, i)}/{OUTPUTS}") for i in range(size)]
    _write(s3, f"{output_prefix}/{OUTPUTS}", gathered(children, output_names).SerializeToString())


def user_error(s3, prefix: str) -> str | None:
    """The user's exception as pyflyte-execute recorded it (``error.pb``): ``<code>: <message>``."""
    body = _read(s3, f"{prefix}/{ERROR}")
    if body is None:
        return None
    document = errors_pb2.ErrorDocument()
    document.ParseFromString(body)
    return f"{document.error.code}: {document.error.message}".strip()
