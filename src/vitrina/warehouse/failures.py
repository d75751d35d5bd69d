"""What a failed ClickHouse insert means: the rows themselves are refused, or the attempt failed.

Every loader path (the write-ahead log's loader, the Kafka and Redis loaders, the group
commit) asks the sink (warehouse/sink.py, which asks `is_refusal()`) before it treats rows
as bad. Only an error ClickHouse raises
for the data itself, named below by its code, may send rows to `rejected`; every other
failure (a cancelled or timed-out query, a memory or parts limit, a full disk, a network
error, an unknown code, an error without one) is transient: the same rows are inserted
again under the same deduplication token until ClickHouse takes them, and ClickHouse
drops whatever part of them an earlier attempt had already stored (raw table and views).

The codes are ClickHouse's (src/Common/ErrorCodes.cpp); tests/warehouse/test_failures.py checks
each name against the engine's own errorCodeToName().
"""

from __future__ import annotations

import re

# Errors raised while turning one row's values into the table's columns: the same rows fail
# the same way on every attempt, so retrying them can never succeed.
REFUSAL_CODES: dict[int, str] = {
    6: "CANNOT_PARSE_TEXT",
    25: "CANNOT_PARSE_ESCAPE_SEQUENCE",
    26: "CANNOT_PARSE_QUOTED_STRING",
    27: "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
    38: "CANNOT_PARSE_DATE",
    41: "CANNOT_PARSE_DATETIME",
    53: "TYPE_MISMATCH",
    69: "ARGUMENT_OUT_OF_BOUND",
    70: "CANNOT_CONVERT_TYPE",
    72: "CANNOT_PARSE_NUMBER",
    117: "INCORRECT_DATA",
    130: "CANNOT_READ_ARRAY_FROM_TEXT",
    131: "TOO_LARGE_STRING_SIZE",
    321: "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
    349: "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN",
    376: "CANNOT_PARSE_UUID",
    407: "DECIMAL_OVERFLOW",
    441: "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING",
    467: "CANNOT_PARSE_BOOL",
    675: "CANNOT_PARSE_IPV4",
    676: "CANNOT_PARSE_IPV6",
}

# For reference in logs and tests: failures met in practice, all transient (like any code
# not in REFUSAL_CODES).
TRANSIENT_EXAMPLES: dict[int, str] = {
    159: "TIMEOUT_EXCEEDED",
    209: "SOCKET_TIMEOUT",
    210: "NETWORK_ERROR",
    236: "ABORTED",
    241: "MEMORY_LIMIT_EXCEEDED",
    243: "NOT_ENOUGH_SPACE",
    252: "TOO_MANY_PARTS",
    394: "QUERY_WAS_CANCELLED",
    395: "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO",
}

_CODE = re.compile(r"\bCode:\s*(\d+)")


def error_code(exc: BaseException) -> int | None:
    """ClickHouse's error code: clickhouse-connect sets `code`; else the "Code: N" of the text."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    found = _CODE.search(str(exc))
    return int(found.group(1)) if found else None


def is_refusal(exc: BaseException) -> bool:
    """True when ClickHouse refused the rows for their data; False for anything transient."""
    code = error_code(exc)
    return code is not None and code in REFUSAL_CODES

