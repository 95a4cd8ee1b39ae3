"""schemathesis against /openapi.json: every operation, as a user, a service and an admin.

The app runs in-process (schemathesis calls the WSGI app), on the suite's database. Cases are
generated from the document, valid ones and invalid ones, and every response must be:
- not a 5xx (`not_a_server_error`);
- a status the operation documents (`status_code_conformance`);
- of a documented content type (`content_type_conformance`) and schema
  (`response_schema_conformance`), headers too (`response_headers_conformance`);
- a 4xx when the input breaks the document (`negative_data_rejection`): what the document
  refuses, the server refuses;
- a 401 without the token (`ignored_auth`);
- strict JSON (`strict_json`, below).
Not enabled: `positive_data_acceptance` (a valid body may still be refused: 403 for a user's
`actor` or a broadcast, 404 for a notification of someone else, 409 for a reused key),
`max_response_time` (a shared CI machine), and the stateful checks (`use_after_free`,
`ensure_resource_availability`: nothing here is created then deleted by id).

CI runs FUZZ_EXAMPLES (default 15) examples per operation and role, derandomized so that a
run is reproducible; FUZZ_EXAMPLES=500 (or FUZZ_LONG=1) for a long run. A failure prints the
case and a curl command that reproduces it.
"""
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance, ignored_auth,
                                               negative_data_rejection,
                                               response_headers_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from devtracker.api import API_PREFIX
from tests.fuzz import fuzz_examples
from tests.strictjson import NotStrictJSON, loads

@schemathesis.check
def strict_json(ctx, response, case):
    """Every JSON body is strict RFC 8259 JSON (no NaN/Infinity, no number that overflows)."""
    if "json" not in (response.headers.get("Content-Type") or [""])[0]:
        return None
    try:
        loads(response.content.decode("utf-8"))
    except (NotStrictJSON, UnicodeDecodeError) as exc:
        raise AssertionError(f"not strict JSON: {exc}") from None
    return True


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance, negative_data_rejection,
          ignored_auth, strict_json]


FUZZ = settings(max_examples=fuzz_examples(15), derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck), print_blob=True)


def load_schema(app):
    """The app's own document, loaded over WSGI."""
    loaded = schemathesis.openapi.from_wsgi(f"{API_PREFIX}/openapi.json", app)
    loaded.config.generation.update(deterministic=True, database="none",
                                    with_security_parameters=False)
    return loaded


def fuzz_operation(operation, mode, headers):
    """Run FUZZ examples of one operation in one generation mode; raise on the first failure."""

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def operation_inputs(operation):
    """What an operation takes besides the token: parameters, a body."""
    return [p for p in operation.definition.raw.get("parameters", [])] + (
        [operation.definition.raw["requestBody"]] if "requestBody" in operation.definition.raw else [])


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("role", ["user", "service", "admin"])
def test_every_operation_answers_as_documented(app, token_for, role, mode):
    headers = {"Authorization": f"Bearer {token_for(f'fuzz-{role}', role=role)}"}
    operations = [result.ok() for result in load_schema(app).get_all_operations()]
    assert len(operations) >= 15
    failures = []
    for operation in operations:
        try:
            fuzz_operation(operation, mode, headers)
        except Unsatisfiable:  # negative mode, an operation that takes nothing: nothing to break
            assert mode == GenerationMode.NEGATIVE and not operation_inputs(operation), operation.label
        except Exception as exc:  # every operation is fuzzed; the failures are reported together
            failures.append(f"{operation.label} ({role}, {mode.value}):\n{exc}")
    assert not failures, "\n\n".join(failures)
