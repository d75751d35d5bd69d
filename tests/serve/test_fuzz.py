"""The OpenAPI document fuzzed against a real `vitrina up` (tests/serve/fuzz.py): at least
2,000 generated requests, every schemathesis check passing (no 5xx; every status, content type
and body as documented), and every error body a JSON error. scripts/fuzz runs 20,000."""

from __future__ import annotations

from tests.serve.fuzz import fuzz_fresh_server

REQUESTS = 2000


def test_the_api_survives_its_fuzzer_and_answers_as_documented() -> None:
    result, output = fuzz_fresh_server(REQUESTS)
    report = result.summary()
    assert result.requests >= REQUESTS, report
    assert result.server_errors == 0, report
    assert not result.not_json_errors, report + "\n" + "\n".join(result.not_json_errors[:20])
    assert not result.failures, report + "\n" + output[output.find("FAILURES") :][:15_000]
