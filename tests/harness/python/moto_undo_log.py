"""Roll moto's DynamoDB transactions back by an undo log instead of a copy of the table.

moto 5.1 and later deep-copy the whole table once per write of a TransactWriteItems, to roll a
failed transaction back, so a transaction's cost grows with the table. This keeps a copy of
only the items the transaction names, taken before moto applies it, and puts them back (or
removes what was created) when moto raises: moto's own code still checks, applies and cancels
every write. Executed before moto's server starts (tests/harness `MOTO_UNDO_LOG_PATCH`, the
benchmark's default) or imported (tests/bench/python/moto_transaction_cost.py --undo-log).
The test tests/harness/tests/undo_log.rs runs the same transactions against stock moto and
this, and compares the tables.
"""
import copy as _copy
import moto.dynamodb.models as _m
from moto.dynamodb.models.dynamo_type import DynamoType as _DT
from moto.dynamodb.models.table import Table as _Table

class _NoTableCopy:
    # moto's transact_write_items reaches `copy.deepcopy` through its module's `copy`: a
    # table is handed back as is (its "rollback" then puts the live table back in place).
    def __getattr__(self, name):
        return getattr(_copy, name)
    def deepcopy(self, x, memo=None):
        return x if isinstance(x, _Table) else _copy.deepcopy(x, memo)

_m.copy = _NoTableCopy()
_stock = _m.DynamoDBBackend.transact_write_items

def _touched(backend, transact_items):
    out = []
    for entry in transact_items:
        try:
            _, op = next(iter(entry.items()))
            table = backend.tables[op["TableName"]]
            keys = op.get("Key") or {
                a: op["Item"][a]
                for a in (table.hash_key_attr, table.range_key_attr)
                if a is not None
            }
            h = _DT(keys[table.hash_key_attr])
            r = _DT(keys[table.range_key_attr]) if table.range_key_attr else None
        except Exception:
            continue  # moto itself refuses this entry before writing anything for it
        out.append((table, h, r, _copy.deepcopy(table.get_item(h, r))))
    return out

def _transact_write_items(self, transact_items):
    before = _touched(self, transact_items)
    try:
        return _stock(self, transact_items)
    except BaseException:
        for table, h, r, item in reversed(before):
            if item is None:
                if r is None:
                    table.items.pop(h, None)
                elif h in table.items:
                    table.items[h].pop(r, None)
            elif r is None:
                table.items[h] = item
            else:
                table.items[h][r] = item
        raise

_m.DynamoDBBackend.transact_write_items = _transact_write_items
