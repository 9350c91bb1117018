"""Which Dagster executor runs a sync job's steps, chosen by the operator per deployment.

`DHIS_SYNC_EXECUTOR` in the environment of the code location (code server, run workers and celery
workers alike):

- `multiprocess` (the default): Dagster's own default executor, every step in a process of its
  own on the machine of the run; run config `execution: {config: {in_process: {}}}` still picks
  in-process execution for one run.
- `celery`: dagster-celery's executor, every step a task on a Celery broker (RabbitMQ or Redis)
  run by `dagster-celery worker` processes on any machine (see deploy/). The broker URL is
  Celery's own `CELERY_BROKER_URL` (the results backend `CELERY_RESULT_BACKEND`, default
  `rpc://`), which Celery itself reads in the workers too: the password is in no definition, run
  config, tag or file. `DHIS_SYNC_CELERY_QUEUE` (default `dagster`) names the queue the steps go
  to, the one the workers listen on (`-q`).

An environment variable, not a key of dhis_sync.yaml: how steps are spread over machines belongs
to the deployment, the same file is used by all of them.
"""

from __future__ import annotations

import os

from dagster import ExecutorDefinition

EXECUTOR_ENV = "DHIS_SYNC_EXECUTOR"
BROKER_ENV = "CELERY_BROKER_URL"  # Celery reads these two itself, in every process
BACKEND_ENV = "CELERY_RESULT_BACKEND"
QUEUE_ENV = "DHIS_SYNC_CELERY_QUEUE"
EXECUTORS = ("multiprocess", "celery")


class ExecutorChoiceError(ValueError):
    """DHIS_SYNC_EXECUTOR or the variables it needs are wrong; the message says how to fix it."""


def sync_executor() -> ExecutorDefinition | None:
    """The executor for sync jobs; None means Dagster's default (multiprocess or in-process)."""
    choice = os.environ.get(EXECUTOR_ENV, "").strip().lower() or "multiprocess"
    if choice == "multiprocess":
        return None
    if choice == "celery":
        return _celery()
    raise ExecutorChoiceError(
        f"{EXECUTOR_ENV}={os.environ[EXECUTOR_ENV]!r} is not an executor: set it to one of {', '.join(EXECUTORS)} "
        f"(or leave it unset for multiprocess)."
    )


def _celery() -> ExecutorDefinition:
    try:
        from dagster_celery import celery_executor
    except ImportError:
        raise ExecutorChoiceError(
            f"{EXECUTOR_ENV}=celery needs dagster-celery: pip install 'dhis_sync_pipeline[celery]'"
        ) from None
    if not os.environ.get(BROKER_ENV):
        raise ExecutorChoiceError(
            f"{EXECUTOR_ENV}=celery needs {BROKER_ENV}, the Celery broker's URL, e.g. "
            f"pyamqp://user:password@rabbitmq.example.org:5672// or redis://redis.example.org:6379/0 "
            f"(the same as in the workers' environment)."
        )
    config = {
        # {"env": ...}: Dagster reads the variable when the run starts, the value is stored nowhere.
        "broker": {"env": BROKER_ENV},
        "backend": {"env": BACKEND_ENV} if os.environ.get(BACKEND_ENV) else "rpc://",
        "config_source": {"task_default_queue": os.environ.get(QUEUE_ENV) or "dagster"},
    }
    return celery_executor.configured(config, name="celery")
