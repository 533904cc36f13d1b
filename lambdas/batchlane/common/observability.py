"""Powertools logger, metrics and tracer shared by every function.

The tracer is Powertools' ``Tracer``, built when a handler first runs rather than at import:
building it imports the X-Ray SDK, whose recorder makes two botocore clients (its sampler's) at
import, a third of a handler's import. Where Powertools would disable tracing anyway (outside
Lambda, ``POWERTOOLS_TRACE_DISABLED``, SAM or Chalice local) the handler runs untraced and the SDK
is never imported; in Lambda the first invocation builds the tracer (patching botocore, as
``Tracer()`` does) before the handler makes any client, and every invocation is traced.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.shared.functions import strtobool

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

logger = Logger()
metrics = Metrics()


class LazyTracer:
    """Powertools' ``Tracer`` made on first use; ``capture_lambda_handler`` can decorate at import."""

    def __init__(self) -> None:
        self._tracer: Tracer | None = None

    @property
    def tracer(self):
        """The Powertools Tracer (importing the X-Ray SDK the first time)."""
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer()
        return self._tracer

    @staticmethod
    def disabled() -> bool:
        """Powertools' own decision (env var, outside Lambda, SAM/Chalice local), without the SDK."""
        from aws_lambda_powertools.tracing.tracer import Tracer

        return bool(Tracer._is_tracer_disabled())

    def capture_lambda_handler(self, handler: Callable | None = None, **options: Any) -> Callable:
        """``Tracer.capture_lambda_handler``, applied when the handler first runs (once per container)."""
        if handler is None:
            return functools.partial(self.capture_lambda_handler, **options)
        traced: list[Callable] = []

        @functools.wraps(handler)
        def run(event, context):
            if not traced:
                traced.append(handler if self.disabled() else self.tracer.capture_lambda_handler(handler, **options))
            return traced[0](event, context)

        return run

    def __getattr__(self, name: str):
        # put_annotation, capture_method ...: the real tracer's (built on first use).
        return getattr(self.tracer, name)


tracer = LazyTracer()


def metrics_disabled() -> bool:
    """POWERTOOLS_METRICS_DISABLED, read at each call as Powertools' Metrics does (``single_metric``
    ignores it and always prints its EMF blob)."""
    try:
        return bool(strtobool(os.environ.get("POWERTOOLS_METRICS_DISABLED", "false")))
    except ValueError:
        return False


class PowertoolsCounter:
    """The metrics port: plain counts, plus a dimension where one is given (one EMF blob each)."""

    def count(self, name: str, value: int = 1, **dimensions: str) -> None:
        if not dimensions:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
            return
        if metrics_disabled():
            return
        with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=metrics.namespace) as metric:
            for key, dim in dimensions.items():
                metric.add_dimension(name=key, value=dim)
