"""Commit-order ids, and live delivery in that order.

Clients resume from an id cursor, so a row with a smaller id must never commit after a row
with a larger one has been seen. SQLite serialises writers, so ids are handed out in commit
order already. PostgreSQL hands out sequence values at insert time, so concurrent
transactions could commit out of order; a transaction-scoped advisory lock per stream
(per recipient for notifications, one for activity) makes the id order the commit order.

Within a process, writes are committed in batches by commits.py, whose leader
publishes each batch's events after its commit and before the next batch starts: live events
leave in commit order.

Each stream also numbers its items `seq` (SPEC §9): 1, 2, 3 ... with no hole, per stream key
(`STREAM_KEYS`: the columns a stream is per; a workspace column joins them later). A batch reads
the heads of its streams under the same locks and numbers its rows from there, so across nodes
the seq order is the commit order too. Nodes deliver each stream in seq order
(realtime/delivery/ordered.py) and fill a hole from the database; clients detect one and resync.
"""
import weakref
import zlib

from sqlalchemy import bindparam, func, select, tuple_

from ..extensions import executor, pooled_connection

NOTIFICATION_STREAM = 1
ACTIVITY_STREAM = 2
# table name -> the columns whose values name one stream of that table ((): one stream).
STREAM_KEYS = {"notifications": ("user_id",), "activity": ()}
LOCK_PARAMETERS = frozenset({"lock_stream", "lock_key", "lock_streams", "lock_keys"})  # lock_statement's


def _int32(value):
    value = zlib.crc32(value.encode()) & 0xFFFFFFFF
    return value - (1 << 32) if value >= (1 << 31) else value


def lock_streams(stream, keys=("",)):
    """Hold the stream locks for `keys` until this transaction ends (sorted: no deadlocks)."""
    lock_stream_keys([(stream, keys)])


def lock_statement(pairs):
    """`(sql, params)` that takes the locks of every (stream, keys) pair, in sorted order, in
    psycopg2's named style; None when there are none."""
    locks = sorted({(stream, _int32(k)) for stream, keys in pairs for k in keys})
    if not locks:
        return None
    if len(locks) == 1:
        return ("SELECT pg_advisory_xact_lock(%(lock_stream)s, %(lock_key)s)",
                {"lock_stream": locks[0][0], "lock_key": locks[0][1]})
    # One statement: unnest yields the pairs in array order, and each lock is taken as its row
    # is produced, so they are taken in the sorted order.
    return ("SELECT pg_advisory_xact_lock(s, k) FROM unnest(CAST(%(lock_streams)s AS integer[]), "
            "CAST(%(lock_keys)s AS integer[])) AS t(s, k)",
            {"lock_streams": [stream for stream, _ in locks], "lock_keys": [key for _, key in locks]})


def lock_stream_keys(pairs, connection=None):
    """Hold the locks of every (stream, keys) pair until this transaction (of `connection`, or
    the session's) ends.

    All of them at once, in one sorted order: two transactions (in two processes) that need
    overlapping sets cannot each hold what the other waits for. On the driver's cursor, as the
    inserts (inserts.py, which can also take them in the round trip of an insert): through
    SQLAlchemy this one statement cost a batch more CPU than its insert did."""
    _, dialect = executor(connection)
    if dialect.name != "postgresql":
        return
    statement = lock_statement(pairs)
    if statement is None:
        return
    cursor = pooled_connection(connection).cursor()
    try:
        cursor.execute(*statement)
    finally:
        cursor.close()


def assign_seqs(table, rows, connection=None):
    """Number `rows` (in order) after the heads of their streams; call with the streams' locks held.

    Sets each row's `seq`; a table without streams is left alone."""
    key_columns = STREAM_KEYS.get(table.name)
    if key_columns is None or not rows:
        return
    keys = {tuple(row[name] for name in key_columns) for row in rows}
    heads = stream_heads(table, key_columns, keys, connection)
    for row in rows:
        key = tuple(row[name] for name in key_columns)
        heads[key] = row["seq"] = heads.get(key, 0) + 1


def stream_heads(table, key_columns, keys, connection=None):
    """{stream key: its largest seq} for the streams of `keys` that have rows.

    On the driver's cursor, compiled once per number of keys, as the inserts (inserts.py): the
    write path runs it once per batch."""
    target, dialect = executor(connection)
    if len(key_columns) <= 1:
        sql, positional = _heads_statement(table, key_columns, len(keys) if key_columns else 0, dialect)
        values = [key[0] for key in keys] if key_columns else []
        cursor = pooled_connection(connection).cursor()
        try:
            cursor.execute(sql, values if positional else {f"k{i}": v for i, v in enumerate(values)})
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return {tuple(row[:-1]): row[-1] for row in rows if row[-1] is not None}
    columns = [table.c[name] for name in key_columns]
    query = select(*columns, func.max(table.c.seq))
    if len(columns) == 1:
        query = query.where(columns[0].in_([key[0] for key in keys])).group_by(*columns)
    elif columns:
        query = query.where(tuple_(*columns).in_(list(keys))).group_by(*columns)
    return {tuple(row[:-1]): row[-1] for row in target.execute(query) if row[-1] is not None}


_heads = weakref.WeakKeyDictionary()  # dialect -> {(table, key columns, count): (sql, positional)}


def _heads_statement(table, key_columns, count, dialect):
    statements = _heads.get(dialect)
    if statements is None:
        statements = _heads[dialect] = {}
    statement = statements.get((table, key_columns, count))
    if statement is None:
        columns = [table.c[name] for name in key_columns]
        query = select(*columns, func.max(table.c.seq))
        if columns:
            query = (query.where(columns[0].in_([bindparam(f"k{i}") for i in range(count)]))
                     .group_by(*columns))
        compiled = query.compile(dialect=dialect)
        if compiled.positional and list(compiled.positiontup) != [f"k{i}" for i in range(count)]:
            raise RuntimeError("unexpected parameter order in the stream heads query")
        statement = statements[(table, key_columns, count)] = (compiled.string, compiled.positional)
    return statement
