"""The wheel users install: ``pip wheel`` of this tree gives one holding the ``batchlane`` package and
nothing else (both halves of the namespace package, lambdas/ and toolkit/, and no ``stacks``), whose
metadata requires the runtime dependencies and offers the ``sandbox`` and ``flyte`` extras, and whose
``batchlane`` command runs once the wheel is installed.

The wheel is built from a copy of the tree: setuptools builds in place, and a ``build/`` left by an
earlier build (or a worktree's ``build`` linked to another checkout's) would put stale modules into
the wheel. It is installed with ``--no-deps`` into a venv that borrows the test venv's packages: a
fresh venv resolving the dependencies from the registry takes about a minute (two with ``[sandbox]``),
and would test pip's resolver and the network rather than the wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# Where each half of the namespace package lives in the tree (pyproject.toml's package-dir).
SOURCE_TREES = (ROOT / "lambdas" / "batchlane", ROOT / "toolkit" / "batchlane")
# One worker under `make test` (--dist loadgroup), so that the wheel is built once per run.
pytestmark = pytest.mark.xdist_group("wheel")


def _run(*command: str | Path, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run a command without the test process's PYTHONPATH, so that only what is installed is found."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, env=env, **kwargs)
    assert result.returncode == 0, f"{command}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    shutil.copy2(ROOT / "pyproject.toml", source)
    for tree in ("lambdas", "toolkit"):
        shutil.copytree(ROOT / tree, source / tree, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp_path_factory.mktemp("dist")
    # The test venv's setuptools (requirements-dev.txt): no build environment to download.
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-w",
        dist,
        source,
    )
    (built,) = dist.glob("batchlane-*.whl")
    return built


def _metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return message_from_bytes(archive.read(name))


def _requirements(wheel: Path) -> tuple[dict[str, Requirement], dict[str, dict[str, Requirement]]]:
    """The wheel's requirements by name: those of every install, and those of each extra."""
    metadata = _metadata(wheel)
    base: dict[str, Requirement] = {}
    extras: dict[str, dict[str, Requirement]] = {extra: {} for extra in metadata.get_all("Provides-Extra") or []}
    for line in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if requirement.marker is None:
            base[name] = requirement
            continue
        (extra,) = [e for e in extras if requirement.marker.evaluate({"extra": e})]
        extras[extra][name] = requirement
    return base, extras


def _pinned(requirements_file: Path, name: str) -> str:
    """The version ``requirements_file`` pins ``name`` to (``name[extra]==version``)."""
    for line in requirements_file.read_text().splitlines():
        requirement = Requirement(line) if line.strip() and not line.startswith(("#", "-")) else None
        if requirement is not None and canonicalize_name(requirement.name) == name:
            (specifier,) = requirement.specifier
            return specifier.version
    raise AssertionError(f"{requirements_file.name} does not pin {name}")


def test_the_wheel_requires_the_runtime_dependencies_and_offers_the_sandbox_and_flyte_extras(wheel):
    base, extras = _requirements(wheel)
    assert set(base) == {"boto3", "pydantic", "pyyaml", "aws-lambda-powertools"}
    assert base["aws-lambda-powertools"].extras == {"parser"}  # the handlers' event models
    assert set(extras) == {"sandbox", "flyte", "completion"}
    assert set(extras["completion"]) == {"argcomplete"}
    assert set(extras["sandbox"]) == {"moto"} and "server" in extras["sandbox"]["moto"].extras
    assert {"flytekit", "flytekitplugins-awsbatch"} <= set(extras["flyte"])


def test_the_sandbox_extra_installs_the_moto_the_sandbox_is_tested_with(wheel):
    """The sandbox patches moto's internals (batchlane.sandbox.executor, moto_speedups): another
    moto release may rename what it patches (5.2.6 renamed ``BatchResponse.describejobs``)."""
    _, extras = _requirements(wheel)
    tested = _pinned(ROOT / "requirements-dev.txt", "moto")
    assert list(extras["sandbox"]["moto"].specifier.filter([tested, "5.2.6", "5.3.0", "6.0.0"])) == [tested]


def test_the_wheel_holds_every_file_of_both_trees_and_nothing_else(wheel):
    """Every module of lambdas/batchlane and toolkit/batchlane, and the sandbox's examples (package data):
    a subpackage missing from pyproject.toml's package list would be missing from the wheel."""
    expected = {
        "batchlane/" + path.relative_to(tree).as_posix()
        for tree in SOURCE_TREES
        for path in tree.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if ".dist-info/" not in n]
    assert sorted(names) == sorted(expected)
    assert {n.split("/", 1)[0] for n in names} == {"batchlane"}  # no top-level stacks (the CDK app)


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A venv holding the wheel, with the test venv's packages (the dependencies) behind it on sys.path."""
    venv = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site_packages = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    # A path in a .pth file is appended to sys.path; the .pth files in that directory are not run, so the
    # test venv's editable install of this checkout stays out.
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site_packages, "borrowed-test-venv.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel)
    return venv


def test_the_installed_batchlane_command_runs_from_the_wheel(installed, tmp_path):
    help_text = _run(installed / "bin" / "batchlane", "--help", cwd=tmp_path).stdout
    assert "usage: batchlane" in help_text and "sandbox" in help_text
    where = _run(
        installed / "bin" / "python",
        "-c",
        "import importlib.util as u, batchlane.cli.main as cli, batchlane.launch.handler as launcher;"
        "print(cli.__file__, launcher.__file__, u.find_spec('stacks'))",
        cwd=tmp_path,
    ).stdout.split()
    site_packages = str(installed)
    assert where[0].startswith(site_packages) and where[1].startswith(site_packages)  # the wheel's, not the tree's
    assert where[2] == "None"


def test_the_installed_command_validates_a_launch_offline_outside_a_checkout(installed, tmp_path):
    batchlane = installed / "bin" / "batchlane"
    assert _run(batchlane, "--version", cwd=tmp_path).stdout.strip() == f"batchlane {_metadata_version()}"
    checked = _run(
        batchlane,
        "launch",
        "--deployment",  # a file: outside a checkout there is no config/<name>.yaml
        ROOT / "config" / "dev.yaml",
        "--project",
        "p",
        "--domain",
        "d",
        "--workflow",
        "w",
        "--task",
        "t",
        "--image",
        "busybox",
        "--dry-run",
        cwd=tmp_path,
    )
    assert checked.stdout.startswith("Valid: t-") and "nothing was sent" in checked.stdout


def _metadata_version() -> str:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
