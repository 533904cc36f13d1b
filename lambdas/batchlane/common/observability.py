"""Powertools logger, metrics and tracer shared by every function."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.shared.functions import strtobool

logger = Logger()
metrics = Metrics()
tracer = Tracer()


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
