"""``batchlane sandbox``: the whole system on this machine, no AWS account (docs/sandbox.md).

batchlane sandbox up                    # emulator + handlers + simulated Batch, until Ctrl-C
batchlane sandbox run SCENARIO [--json] # from scratch: run a scenario, print each launch's end
batchlane sandbox demo                  # a narrated tour, every step checked (exit 0: all behaved)
batchlane sandbox load --launches 2000  # a burst against a throttling Batch: rate, throttles, 0 lost/duplicated
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from contextlib import contextmanager, redirect_stdout

from batchlane.cli.common import OK, USAGE, CliError, Commands, Context, add_command, add_group
from batchlane.common.event_types import LAUNCH_REJECTED

FAILED = 1  # some launch did not end as the scenario expects (or did not end at all)


@contextmanager
def _quiet_stdout():
    """The handlers log (Powertools) and print metrics to standard output; keep it for our report
    by pointing file descriptor 1 at standard error while the sandbox runs."""
    sys.stdout.flush()
    saved = os.dup(1)
    report = os.fdopen(os.dup(saved), "w")
    os.dup2(2, 1)
    try:
        with redirect_stdout(sys.stderr):  # print() (Powertools metrics) goes to sys.stdout
            yield report
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _execution(args):
    """``--execute local`` / ``--image-map`` / ``--max-processes``: how the sandbox runs jobs."""
    from batchlane.sandbox.local_execution import LocalExecution
    from batchlane.sandbox.scenario import ScenarioError, load_image_map

    try:
        image_map = load_image_map(args.image_map) if args.image_map else {}
    except ScenarioError as exc:
        raise CliError(str(exc), USAGE) from None
    return LocalExecution(image_map=image_map, every_launch=args.execute == "local", max_processes=args.max_processes)


def _sandbox(args, ctx: Context, scenario=None):
    from batchlane.sandbox.core import Sandbox

    return Sandbox(
        ctx.config(),
        scenario=scenario,
        port=getattr(args, "port", 0) or 0,
        visibility_timeout_seconds=args.visibility_timeout,
        execution=_execution(args),
    )


def cmd_up(args: argparse.Namespace, ctx: Context) -> int:
    sandbox = _sandbox(args, ctx)
    with _quiet_stdout() as out:
        sandbox.start()
        env = sandbox.emulator.environment()
        functions = [
            f"{n} (batch {b.batch_size}, window {b.batching_window_seconds} s)" for n, b in sandbox.paths.items()
        ]
        lines = [
            f"batchlane sandbox ({sandbox.config.name}) is up in {sandbox.started_in:.1f} s at {sandbox.endpoint}",
            f"  functions: {', '.join(functions)}",
            f"  event bus: {sandbox.config.bus_name}; Batch queues: {', '.join(sandbox.deployment.queue_arns)}",
            f"  jobs: {_jobs_line(sandbox)}",
            "",
            "Point the CLI and boto3 at it (another shell):",
            *[f"  export {k}={v}" for k, v in env.items()],
            f"  batchlane routes list --deployment {sandbox.config.name}",
            f"  batchlane launch --deployment {sandbox.config.name} --project p --domain d --workflow w --task t "
            "--image busybox --input '{}' --wait",
            '  aws events put-events --entries \'[{"Source":"me","DetailType":"Task Launch Requested",'
            f'"EventBusName":"{sandbox.config.bus_name}","Detail":"{{...}}"}}]\'',
            "",
            "Ctrl-C stops it.",
        ]
        if args.json:  # one line: a script reads it, then leaves the sandbox running
            out.write(json.dumps(_up_document(sandbox, env)) + "\n")
        else:
            out.write("\n".join(lines) + "\n")
        out.flush()

        def interrupted(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, interrupted)
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started in the background by a shell
            signal.signal(signal.SIGINT, interrupted)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            out.write("stopping the sandbox\n")
        finally:
            sandbox.stop()
            out.close()
    return OK


def _up_document(sandbox, env: dict[str, str]) -> dict:
    """``sandbox up --json``: where the sandbox is and what it holds."""
    return {
        "deployment": sandbox.config.name,
        "endpoint": sandbox.endpoint,
        "environment": env,
        "startedInSeconds": round(sandbox.started_in, 2),
        "functions": {
            n: {"batchSize": b.batch_size, "windowSeconds": b.batching_window_seconds} for n, b in sandbox.paths.items()
        },
        "bus": sandbox.config.bus_name,
        "queues": dict(sandbox.deployment.queue_arns),
    }


def _jobs_line(sandbox) -> str:
    execution = sandbox.executor.execution
    if not execution.every_launch:
        return "simulated (--execute local runs their commands as local processes)"
    return (
        f"run as local processes (at most {execution.process_limit} at once), "
        f"{len(execution.image_map)} image(s) mapped, logs in {sandbox.config.job_log_group}"
    )


def _summary_line(o) -> str:
    status = o.status or {}
    parts = [f"{o.name}: {o.result}"]
    if o.launch_id:
        parts.append(f"launchId={o.launch_id}")
    if o.record:
        parts.append(f"job={o.record.job_id} queue={o.record.queue} size={o.record.size}")
    if status.get("reason"):
        parts.append(f"({status['reason']})")
    rejected = next((a["detail"] for a in o.answers if a["detail-type"] == LAUNCH_REJECTED), None)
    if rejected:
        parts.append("problems: " + "; ".join(f"{p['field']}: {p['message']}" for p in rejected.get("problems", [])))
    if status.get("error"):
        parts.append(f"error: {status['error']}")
    if status.get("outputs") is not None:
        parts.append("outputs: " + json.dumps(status["outputs"])[:300])
    return "  ".join(parts)


def _expected(spec, outcome) -> list[str]:
    """What differs from the scenario's `expect` (result: succeeded | failed | rejected | ...)."""
    problems = []
    want = spec.expect.get("result") if spec else None
    if want and outcome.result != want:
        problems.append(f"{outcome.name}: expected {want}, got {outcome.result}")
    return problems


def cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    from batchlane.sandbox.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        raise CliError(str(exc), USAGE) from None
    if args.timeout:
        from dataclasses import replace

        scenario = replace(scenario, timeout_seconds=args.timeout)
    if not getattr(args, "deployment", None) and not os.environ.get("BATCHLANE_DEPLOYMENT"):
        ctx.deployment = scenario.deployment
    sandbox = _sandbox(args, ctx, scenario)
    t0 = time.monotonic()
    with _quiet_stdout() as out:
        try:
            sandbox.start()
            outcomes = sandbox.run_scenario(scenario)
            emitted = len(sandbox.executor.emitted) if sandbox.executor else 0
            invocations = {
                n: {"invocations": p.stats.invocations, "messages": p.stats.messages}
                for n, p in sandbox.pollers.items()
            }
        finally:
            sandbox.stop()
        seconds = round(time.monotonic() - t0, 2)
        specs = {s.name: s for s in scenario.launches}
        problems = [p for o in outcomes for p in _expected(specs.get(o.name), o)]
        problems += [f"{o.name}: {o.result}" for o in outcomes if not o.final]
        if args.json:
            out.write(
                json.dumps(
                    {
                        "scenario": scenario.name,
                        "endpoint": sandbox.endpoint,
                        "seconds": seconds,
                        "startSeconds": round(sandbox.started_in or 0, 2),
                        "statusPath": sandbox.has_status_path,
                        "batchEventsEmitted": emitted,
                        "functions": invocations,
                        "launches": [o.as_json() for o in outcomes],
                        "problems": problems,
                    },
                    indent=2,
                    default=str,
                )
                + "\n"
            )
        else:
            out.write(
                f"scenario {scenario.name}: {len(outcomes)} launch(es) in {seconds} s "
                f"(sandbox start {sandbox.started_in or 0:.1f} s, {emitted} Batch events)\n"
            )
            for o in outcomes:
                out.write("  " + _summary_line(o) + "\n")
            for p in problems:
                out.write(f"  PROBLEM {p}\n")
        out.close()
    return FAILED if problems else OK


def cmd_demo(args: argparse.Namespace, ctx: Context) -> int:
    from batchlane.sandbox.demo import run_demo

    return run_demo(sys.stdout, deployment=ctx.deployment, log_file=args.log_file)


def cmd_load(args: argparse.Namespace, ctx: Context) -> int:
    from batchlane.sandbox.load import run_load

    if args.launches < 1 or args.batch_rate <= 0:
        raise CliError("--launches and --batch-rate must be positive", USAGE)
    with _quiet_stdout() as out:
        report = run_load(
            args.launches,
            config=ctx.config(),
            batch_rate=args.batch_rate,
            submit_rate=args.submit_rate,
            timeout=args.timeout,
        )
        if args.json:
            out.write(json.dumps(report.as_json(), indent=2) + "\n")
        else:
            out.write("\n".join(report.lines()) + "\n")
        out.flush()
    return OK if report.ok else FAILED


def _sandbox_options(p: argparse.ArgumentParser) -> None:
    """What ``up`` and ``run`` share: how the sandbox's buffers and jobs run."""
    p.add_argument(
        "--visibility-timeout",
        type=int,
        default=2,
        metavar="SECONDS",
        help="SQS visibility timeout of the buffers (the stacks use 6 x the function timeout; "
        "the sandbox compresses time; default 2)",
    )
    p.add_argument(
        "--execute",
        choices=("simulated", "local"),
        default=None,
        help="how jobs run: simulated (default; a scenario may say otherwise) or local: each job's "
        "command runs as a process on this machine, against the sandbox (no Docker)",
    )
    p.add_argument(
        "--image-map",
        metavar="FILE",
        default=None,
        help="local execution: YAML {image or glob: [words run before the job's command]}; "
        "'{python}' is this interpreter, ./paths are relative to FILE",
    )
    p.add_argument(
        "--max-processes",
        type=int,
        default=None,
        metavar="N",
        help="local execution: at most N jobs' processes at once (default: the CPU count)",
    )


def _register_up_and_run(group: Commands) -> None:
    p = add_command(group, "up", cmd_up, help="start the sandbox and keep it running until Ctrl-C")
    p.add_argument("--port", type=int, default=0, help="port of the emulator (default: a free one)")
    _sandbox_options(p)
    p = add_command(
        group,
        "run",
        cmd_run,
        help="run a scenario file from scratch and print each launch's end",
        description="Start a fresh sandbox, run SCENARIO (docs/sandbox.md), wait for every launch to\n"
        "end (or the scenario's timeoutSeconds), print each launch's final status, stop.\n"
        "Exit code 1 when a launch did not end, or ended otherwise than its `expect`.",
    )
    p.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="overrides timeoutSeconds")
    _sandbox_options(p)


def _register_demo(group: Commands) -> None:
    p = add_command(
        group,
        "demo",
        cmd_demo,
        json_output=False,
        help="a narrated tour: routing from a FlyteAdmin config, launches, failures, live status",
        description="Start a sandbox and walk through batchlane in numbered steps, running the real\n"
        "commands and checking each result: routing imported from a FlyteAdmin config, a\n"
        "route explained, a single task and a map task with failures and retries followed\n"
        "live, a routing edit taking effect, a rejected launch, a poisoned message in the\n"
        "DLQ. Exit code 0 when every step behaved, 1 otherwise.",
    )
    p.add_argument(
        "--log-file", metavar="FILE", default=None, help="where the handlers' logs go (default build/sandbox-demo.log)"
    )


def _register_load(group: Commands) -> None:
    p = add_command(
        group,
        "load",
        cmd_load,
        help="put many launches on the bus at once; report rate, throttles, exactly-once",
        description="Start a sandbox whose Batch takes at most --batch-rate SubmitJob calls per second\n"
        "(429 beyond, as AWS's 50), put --launches launch requests on the bus as fast as it\n"
        "can, wait until each has its job, and check Batch's job list and the executions\n"
        "table: launches per second, max in flight, throttles seen, duplicates, lost, DLQ.\n"
        "Exit code 0 when none is lost or duplicated and the DLQ is empty. Local only.",
    )
    p.add_argument("--launches", type=int, default=2000, help="launch requests to put on the bus (default 2000)")
    p.add_argument(
        "--batch-rate",
        type=float,
        default=50,
        metavar="PER_SECOND",
        help="SubmitJob calls per second the sandbox's Batch accepts (default 50, as AWS)",
    )
    p.add_argument(
        "--submit-rate",
        type=float,
        default=None,
        metavar="PER_SECOND",
        help="overrides the deployment's submitRatePerSecond",
    )
    p.add_argument("--timeout", type=float, default=1800, metavar="SECONDS", help="give up after (default 1800)")


def register(subparsers: Commands) -> None:
    group = add_group(
        subparsers,
        "sandbox",
        help="run batchlane locally on an AWS emulator (no AWS account)",
        description="The local sandbox: moto server, batchlane's real handlers, simulated AWS Batch.",
    )
    _register_up_and_run(group)
    _register_demo(group)
    _register_load(group)
