"""What moto's DynamoDB charges per call as the table grows (README "Benchmark").

Run with the project's moto: `.venv/bin/python tests/bench/python/moto_transaction_cost.py`
(optionally the numbers of grants to try, e.g. `100 500 2000`; `--undo-log` measures the
benchmark's moto, tests/harness/python/moto_undo_log.py, instead of stock moto). It builds,
in-process (no server, no HTTP), a table shaped like elastic-jit's (`pk`/`sk`, the three GSIs of
`shared/src/store/schema.rs`) holding, per overdue grant, what the sweep finds: its request
(with a short history), its account and its audit-log copies. Then it times the calls the
sweep makes per grant: the lease (UpdateItem), the outcome with the account's release and
the audit copy (TransactWriteItems of 3 writes), and one due-index page (Query of 100).

moto 5.1 and later copy the whole table (`copy.deepcopy`) once for every write of a
TransactWriteItems, before applying it (moto/dynamodb/models/__init__.py,
`transact_write_items`): a transaction's cost grows with the table times its writes.
"""

import statistics
import sys
import time
from pathlib import Path

from moto.dynamodb.models import dynamodb_backends

ACCOUNT, REGION = "123456789012", "us-east-1"
INDEXES = [
    ("by_due", "due_status", "due_at"),
    ("by_requester", "requester_sub", "created_key"),
    ("by_open_requester", "open_requester", "created_key"),
]


def s(v):
    return {"S": v}


def event(i, j):
    return {"M": {
        "id": s(f"ev-{i}-{j}"), "at": s("2026-12-04T17:00:00Z"), "actor": s(f"user-{i}"),
        "action": s("grant.provisioned"),
        "details": {"M": {"objects": {"L": [{"M": {"kind": s("es_role"),
                                                    "name": s(f"ejit_grant_{i}")}}]}}},
    }}


def fresh_table(name):
    backend = dynamodb_backends[ACCOUNT][REGION]
    names = ["pk", "sk"] + sorted({a for _, h, r in INDEXES for a in (h, r)})
    backend.create_table(
        name,
        schema=[{"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"}],
        throughput=None,
        attr=[{"AttributeName": n, "AttributeType": "S"} for n in names],
        global_indexes=[{
            "IndexName": i,
            "KeySchema": [{"AttributeName": h, "KeyType": "HASH"},
                          {"AttributeName": r, "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        } for i, h, r in INDEXES],
        indexes=[], streams=None, billing_mode="PAY_PER_REQUEST", sse_specification=None,
        tags=[], deletion_protection_enabled=False, warm_throughput=None,
    )
    return backend


def seed(backend, table, grants):
    for i in range(grants):
        backend.put_item(table, {
            "pk": s(f"REQ#{i:05}"), "sk": s("REQ"), "due_status": s("active"),
            "due_at": s(f"2026-12-04T16:{i % 60:02}:00Z"), "requester_sub": s(f"u{i}"),
            "created_key": s(f"2026-12-04T15:00:00Z#{i:05}"), "body": s("x" * 1500),
            "history": {"L": [event(i, j) for j in range(4)]}, "version": {"N": "3"},
        })
        backend.put_item(table, {"pk": s(f"PRINCIPAL#prod#ejit_u{i}"), "sk": s("PRINCIPAL"),
                                 "body": s("y" * 300), "version": {"N": "2"}})
        for j in range(3):
            backend.put_item(table, {"pk": s("AUDIT#2026-12-04"), "sk": s(f"{i:05}-{j}"),
                                     "body": s("z" * 400)})


def timed(f, repeat):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        f()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(grants):
    table = f"cost-{grants}"
    backend = fresh_table(table)
    seed(backend, table, grants)
    items = sum(1 for _ in backend.get_table(table).all_items())
    counter = iter(range(10**9))

    def outcome(writes):
        def run():
            n = next(counter)
            backend.transact_write_items([
                {"Put": {"TableName": table,
                         "Item": {"pk": s(f"NEW#{n}#{k}"), "sk": s("X"), "body": s("q" * 300)}}}
                for k in range(writes)
            ])
        return run

    def lease():
        n = next(counter) % grants
        backend.update_item(table, {"pk": s(f"PRINCIPAL#prod#ejit_u{n}"), "sk": s("PRINCIPAL")},
                            update_expression="SET lock_owner = :o",
                            expression_attribute_names={},
                            expression_attribute_values={":o": s("sweep")})

    def page():
        backend.query(table, {"due_status": s("active")}, None, [], 100, None, True, None,
                      index_name="by_due")

    repeat = 3 if grants >= 1000 else 5
    return {
        "grants": grants,
        "items": items,
        "lease": timed(lease, 20),
        "page": timed(page, repeat),
        "tx1": timed(outcome(1), repeat),
        "tx3": timed(outcome(3), repeat),
    }


def main():
    args = sys.argv[1:]
    if "--undo-log" in args:
        # The benchmark's moto: transactions rolled back by an undo log, not a table copy.
        args.remove("--undo-log")
        import importlib.util
        path = Path(__file__).resolve().parents[2] / "harness/python/moto_undo_log.py"
        spec = importlib.util.spec_from_file_location("moto_undo_log", path)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    sizes = [int(a) for a in args] or [100, 500, 1000, 2000]
    print("| overdue grants | table items | UpdateItem ms | Query (100) ms "
          "| TransactWriteItems 1 write ms | 3 writes ms | sweep of all at 3 writes each, s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        r = measure(n)
        print(f"| {n:,} | {r['items']:,} | {r['lease']:.1f} | {r['page']:.1f} | {r['tx1']:.1f} "
              f"| {r['tx3']:.1f} | {n * r['tx3'] / 1000:,.1f} |", flush=True)


if __name__ == "__main__":
    main()
