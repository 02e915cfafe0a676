"""Gives the fuzz something to work on beyond the demo data: imports the fixture settlement files of
24 November 2026 and statement, reconciles that day (whose exceptions then exist), and prints the
ids the fuzz config pins some path parameters to, as `NAME=value` lines.

Standard library only; run by run.sh with ONECARD_FUZZ_BASE_URL and the demo tokens set.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

BASE = os.environ["ONECARD_FUZZ_BASE_URL"]
FINANCE = os.environ["ONECARD_FUZZ_TOKEN_FINANCE"]
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DAY = "2026-11-24"
FILES = [
    ("pos-settlement-fixed-width/ok/POS_898440379930001_20261124.txt", "spec=pos-settlement-fixed-width"),
    (
        "onecard-settlement-csv/ok/YKT_310000000000021_20261124.csv",
        "spec=onecard-settlement-csv&name=YKT_310000000000021_20261124.csv",
    ),
    (
        "collection-account-statement-csv/ok/33050161234500001234_20261125_20261125.csv",
        "spec=collection-account-statement-csv",
    ),
]


def call(method: str, path: str, body: bytes | None = None, content_type: str = "application/json") -> dict:
    request = urllib.request.Request(BASE + path, data=body, method=method)
    request.add_header("Authorization", f"Bearer {FINANCE}")
    if body is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as e:
        sys.exit(f"seed: {method} {path} answered {e.code}: {e.read().decode('utf-8', 'replace')}")


def main() -> None:
    file_ids = []
    for path, query in FILES:
        imported = call("POST", f"/v1/settlement-files?{query}", (FIXTURES / path).read_bytes(), "application/octet-stream")
        file_ids.append(imported["id"])
    run = call("POST", "/v1/reconciliations", json.dumps({"business_date": DAY}).encode())
    exceptions = call("GET", f"/v1/reconciliations/{run['id']}/exceptions")["items"]
    if not exceptions:
        sys.exit(f"seed: the reconciliation of {DAY} opened no exception to fuzz")
    print(f"ONECARD_FUZZ_SETTLEMENT_FILE_ID={file_ids[0]}")
    print(f"ONECARD_FUZZ_RECONCILIATION_ID={run['id']}")
    print(f"ONECARD_FUZZ_EXCEPTION_ID={exceptions[0]['id']}")
    print(f"seed: {len(file_ids)} files imported, {DAY} reconciled, {len(exceptions)} exceptions open", file=sys.stderr)


if __name__ == "__main__":
    main()
