"""Tasks for the worker's tests: importable by path, as the worker loads them from their rows."""

from django.db import OperationalError
from django.tasks import task

runs: list[str] = []
fail_next: list[BaseException] = []  # raised (and removed) by the next run of `record`


@task
def record(value: str) -> str:
    if fail_next:
        raise fail_next.pop()
    runs.append(value)
    return value


def database_gone() -> OperationalError:
    return OperationalError("server closed the connection unexpectedly")
