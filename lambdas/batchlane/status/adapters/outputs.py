"""S3 for the status path: the children's outputs read, the launch's outputs written (streamed)."""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from batchlane.common import aws


def _split(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


class S3Outputs:
    """Children's ``<outputsUri><i>/outputs.json`` in, the launch's ``outputs.json`` out."""

    def __init__(self, workers: int = aws.MAX_POOL_CONNECTIONS) -> None:
        self.workers = min(workers, aws.MAX_POOL_CONNECTIONS)  # one pooled connection per thread

    def read(self, uri: str) -> dict[str, Any] | None:
        body = self.read_bytes(uri)
        if body is None:
            return None
        try:
            value = json.loads(body)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def read_many(self, uris: dict[int, str]) -> dict[int, dict[str, Any] | None]:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return dict(zip(uris, pool.map(self.read, uris.values())))

    def write_stream(self, uri: str, parts) -> None:
        """Streamed to S3 (boto3's managed transfer: a multipart upload past 8 MB), never whole in memory."""
        bucket, key = _split(uri)
        try:
            aws.client("s3").upload_fileobj(
                _PartsReader(iter(parts)), bucket, key, ExtraArgs={"ContentType": "application/json"}
            )
        except ClientError as exc:
            aws.raise_if_transient("UploadPart", exc)
            raise

    def read_bytes(self, uri: str) -> bytes | None:
        bucket, key = _split(uri)
        try:
            return aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if aws.error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            aws.raise_if_transient("GetObject", exc)
            raise

    def write_bytes(self, uri: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        bucket, key = _split(uri)
        try:
            aws.client("s3").put_object(Bucket=bucket, Key=key, ContentType=content_type, Body=body)
        except ClientError as exc:
            aws.raise_if_transient("PutObject", exc)
            raise

    def write(self, uri: str, value: Any) -> None:
        self.write_bytes(uri, json.dumps(value, separators=(",", ":"), default=str).encode(), "application/json")


class _PartsReader(io.RawIOBase):
    """A readable file over an iterator of byte strings (what upload_fileobj reads from)."""

    def __init__(self, parts) -> None:
        self._parts = parts
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._parts)
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n
