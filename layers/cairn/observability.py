"""Powertools for every Chalice API Cairn serves, wired the same way in each."""

from __future__ import annotations

from typing import NamedTuple

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from chalice.app import Chalice, ConvertToMiddleware

METRICS_NAMESPACE = "Cairn"


class InstrumentedApi(NamedTuple):
    app: Chalice
    logger: Logger
    tracer: Tracer
    metrics: Metrics


def instrumented_api(service: str) -> InstrumentedApi:
    """A Chalice app named cairn-<service> with Powertools' Logger (API Gateway correlation id,
    state cleared between invocations), Tracer and Metrics. Traces record timings only, never
    responses: every Cairn API answers with PHI or personal data."""
    app = Chalice(app_name=f"cairn-{service}")
    logger = Logger(service=service)
    tracer = Tracer(service=service)
    metrics = Metrics(namespace=METRICS_NAMESPACE, service=service)
    app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(
        correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)))
    app.register_middleware(ConvertToMiddleware(tracer.capture_lambda_handler(capture_response=False)))
    app.register_middleware(ConvertToMiddleware(metrics.log_metrics))
    return InstrumentedApi(app, logger, tracer, metrics)
