"""DuckDB baseline for the reconciliation benchmark (benches/recon.rs).

Usage: python duckdb_join.py <payments.csv> <lines.csv> <rounds>

Both files are written by the bench from the same synthetic day it matches: `key,amount` rows
(the one-key join's key: a one-card payment's reference / a line's own reference, else the
RRN). The tables are loaded first (not timed); then the same one-key hash join the bench's own
baseline does (payments to lines on the key, counting equal amounts) is timed, best of
<rounds>. Prints one line: `duckdb <seconds> <agreeing> <threads> <version>`.
"""

import sys
import time

import duckdb


def main() -> None:
    payments_csv, lines_csv, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    con = duckdb.connect()
    for table, path in (("payments", payments_csv), ("lines", lines_csv)):
        con.execute(
            f"CREATE TABLE {table} AS SELECT * FROM read_csv(?, header = true, "
            "columns = {'key': 'VARCHAR', 'amount': 'BIGINT'})",
            [path],
        )
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    query = (
        "SELECT count(*) FROM payments p JOIN lines l ON p.key = l.key "
        "WHERE p.amount = l.amount"
    )
    best = float("inf")
    agree = None
    for _ in range(rounds):
        t = time.perf_counter()
        agree = con.execute(query).fetchone()[0]
        best = min(best, time.perf_counter() - t)
    print(f"duckdb {best:.6f} {agree} {threads} {duckdb.__version__}")


if __name__ == "__main__":
    main()
