"""Fuzz a running roost with schemathesis: every operation in /openapi.json, with generated
valid (positive) and invalid (negative) input, as the fuzz user, as admin and anonymously.

Each response must: not be a 5xx, have a documented status and content type, match the
documented body schema, and (for invalid input) be a 4xx. Failures are collected, not
raised, so that one run reports all of them and the request count is exact (no shrinking).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]
# Invalid input is rejected by any 4xx (413 for a body over the bound, 409, 429 ...).
CONFIG = schemathesis.Config.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": ["4xx"]}}}
)
ADMIN_PREFIXES = ("/admin", "/api/admin")
AUTH_HEADERS = ("authorization", "x-api-key")


@dataclass(frozen=True)
class Credentials:
    password: str  # the admin password
    key: str  # an ordinary user's API key
    protected: frozenset[str]  # ids/prefixes the destructive admin routes must never get
    # Ids of things the fuzz user owns, by path parameter name or "path:name":
    # random ids only reach "not found", these reach the handlers' real work.
    known: dict[str, str] = field(default_factory=dict)


def known_parameters(path: str, known: dict[str, str]) -> dict[str, str]:
    """Values for the path parameters of `path` that name something that exists."""
    names = re.findall(r"{(\w+)}", path)
    found = {}
    for name in names:
        value = known.get(f"{path}:{name}", known.get(name))
        if value is not None:
            found[name] = value
    return found if found and len(found) == len(names) else {}


@dataclass
class Report:
    requests: int = 0
    operations: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    _seen: set[tuple[str, str, int]] = field(default_factory=set)

    def fail(self, operation: str, title: str, status: int, detail: str) -> None:
        # One entry per (operation, kind, status): the same bug found 300 times is one bug.
        if (operation, title, status) not in self._seen:
            self._seen.add((operation, title, status))
            self.failures.append(f"{operation}: {title} (status {status})\n{detail[:2000]}")

    def summary(self) -> str:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return (
            f"{self.requests} requests to {self.operations} operations in {self.seconds:.1f} s, "
            f"{len(self.failures)} failures; statuses {statuses}"
        )


def _headers(case: schemathesis.Case, n: int, credentials: Credentials) -> dict[str, str]:
    """Who sends this case: anonymous 1 in 10, the admin on admin routes and 1 in 3 others,
    else the fuzz user."""
    for name in list(case.headers or {}):
        if name.lower() in AUTH_HEADERS:
            del case.headers[name]
    if n % 10 == 0:
        return {}
    if case.path.startswith(ADMIN_PREFIXES) or n % 3 == 0:
        return {"Authorization": f"Bearer {credentials.password}"}
    return {"X-API-Key": credentials.key}


def _harmless(case: schemathesis.Case, credentials: Credentials) -> bool:
    """False for a case that would delete the fuzzer's own user or key."""
    if case.method.upper() != "DELETE" or not case.path.startswith("/admin"):
        return True
    values = [str(v) for v in (case.query or {}).values()]
    return not any(p in v for v in values for p in credentials.protected)


def _drive(
    strategy: Any, examples: int, seed: int, body: Callable[[schemathesis.Case], None]
) -> None:
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.seed(seed)
    @hypothesis.given(strategy)
    def run(case: schemathesis.Case) -> None:
        body(case)

    run()


def _sender(
    url: str,
    session: requests.Session,
    credentials: Credentials,
    report: Report,
    label: str,
    checks: list[Any],
    timeout: float,
) -> Callable[[schemathesis.Case], None]:
    """Send one case and record its answer and any failed check."""

    def send(case: schemathesis.Case) -> None:
        if not _harmless(case, credentials):
            return
        headers = _headers(case, report.requests, credentials)
        report.requests += 1
        try:
            response = case.call(base_url=url, session=session, headers=headers, timeout=timeout)
        except requests.Timeout:
            report.fail(label, "no answer (hang)", 0, case.as_curl_command())
            return
        report.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=checks)
        except FailureGroup as group:
            for failure in group.exceptions:
                report.fail(label, failure.title, response.status_code, str(group))
        except Failure as failure:
            report.fail(label, failure.title, response.status_code, str(failure))

    return send


def fuzz(
    url: str,
    credentials: Credentials,
    *,
    examples: int,
    seed: int = 0,
    timeout: float = 30.0,
    log: Callable[[str], None] = lambda line: None,
) -> Report:
    """Run `examples` generated cases per operation and mode against the server at `url`."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=CONFIG)
    report = Report()
    session = requests.Session()
    started = time.perf_counter()
    seeded: list[tuple[Any, str, dict[str, str]]] = []
    modes = ((GenerationMode.POSITIVE, CHECKS), (GenerationMode.NEGATIVE, NEGATIVE_CHECKS))
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        report.operations += 1
        for mode, checks in modes:
            send = _sender(url, session, credentials, report, label, checks, timeout)
            # Unsatisfiable: nothing to make invalid (no parameters and no body).
            with contextlib.suppress(hypothesis.errors.Unsatisfiable):
                _drive(operation.as_strategy(generation_mode=mode), examples, seed, send)
        ids = known_parameters(operation.path, credentials.known)
        if ids:
            seeded.append((operation, label, ids))
        log(f"{label}: {report.requests} requests so far")
    # Then again with the ids of things that exist (the rest generated), deletions last.
    # (the agent itself after its archival passages: longest paths first)
    seeded.sort(key=lambda item: (item[0].method.upper() == "DELETE", -len(item[0].path)))
    for operation, label, ids in seeded:
        for mode, checks in modes:
            send = _sender(url, session, credentials, report, label, checks, timeout)
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=ids)
            with contextlib.suppress(hypothesis.errors.Unsatisfiable):
                _drive(strategy, examples, seed, send)
        log(f"{label} {ids}: {report.requests} requests so far")
    report.seconds = time.perf_counter() - started
    return report
