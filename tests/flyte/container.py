"""The Flyte image's entrypoint in the sandbox's local executor (its ``imageMap``): what the image
would hold (flytekit, the user's code on the path), then Batch's command, as a container runs it.
flytekit reaches S3 through ``FLYTE_AWS_*``: pointed at the emulator the sandbox gives every job."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

if __name__ == "__main__":
    os.environ |= {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "PYTHONPATH": f"{ROOT / 'lambdas'}:{ROOT / 'toolkit'}:{ROOT}",
        "FLYTE_AWS_ENDPOINT": os.environ["AWS_ENDPOINT_URL"],
        "FLYTE_AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
        "FLYTE_AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
    }
    os.chdir(ROOT)
    os.execvp(sys.argv[1], sys.argv[1:])
