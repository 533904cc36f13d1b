"""Powertools logger, metrics and tracer shared by every function."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger()
metrics = Metrics()
tracer = Tracer()


class PowertoolsCounter:
    """The metrics port: plain counts, plus a dimension where one is given (one EMF blob each)."""

    def count(self, name: str, value: int = 1, **dimensions: str) -> None:
        if not dimensions:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
            return
        with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=metrics.namespace) as metric:
            for key, dim in dimensions.items():
                metric.add_dimension(name=key, value=dim)
