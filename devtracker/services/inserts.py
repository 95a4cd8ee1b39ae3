"""INSERT ... RETURNING id for the write path, compiled once and run on the driver's cursor.

Every notification and activity is one such insert. SQLAlchemy's execution of it (cache key,
compiled-statement lookup, execution context, result object) took ~12 % of a notify's CPU at
800 notifications/s; the statement itself, in the driver, ~2 %. `RowInsert` keeps what
SQLAlchemy would have done for these tables: the SQL its compiler writes for the dialect and
each column type's own bind processor (JSON, dates, booleans), so the stored values are the
same. Anything it was not built for goes through SQLAlchemy as before: a row with other
columns (a column default to run), or several rows on a server database, where one multi-row
statement saves a round trip per row.
"""
import weakref

from sqlalchemy import insert

from ..extensions import executor, pooled_connection
from .ordering import LOCK_PARAMETERS, lock_statement, lock_stream_keys

# engine dialect -> {(table, columns): RowInsert}. Per dialect object, not per dialect name: the
# SQL's placeholders follow its driver, and a JSON bind processor its engine's serializer.
_compiled = weakref.WeakKeyDictionary()


class RowInsert:
    """One table's INSERT of a fixed set of columns, returning the new id."""

    def __init__(self, table, columns, dialect):
        compiled = insert(table).returning(table.c.id).compile(dialect=dialect, column_keys=list(columns))
        self.sql = compiled.string
        names = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
        # Only rows that give every bound column: nothing left for SQLAlchemy to fill in.
        self.usable = set(names) == set(columns)
        self.positional = compiled.positional
        self.binds = [(name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
                      for name in names]

    def params(self, row):
        values = [(name, row[name] if process is None else process(row[name])) for name, process in self.binds]
        return [value for _, value in values] if self.positional else dict(values)

    def run(self, cursor, row, before=None):
        """Insert `row`; its new id. `before`, `(sql, named params)`, is sent ahead of the
        insert in the same query (psycopg2 only: see `_joins_statements`)."""
        if before is None:
            cursor.execute(self.sql, self.params(row))
        else:
            cursor.execute(f"{before[0]}; {self.sql}", {**before[1], **self.params(row)})
        return cursor.fetchone()[0]


def row_insert(table, columns, dialect):
    """The RowInsert of `table` for rows with exactly `columns` (sorted names), on `dialect`."""
    statements = _compiled.get(dialect)
    if statements is None:
        statements = _compiled[dialect] = {}
    statement = statements.get((table, columns))
    if statement is None:
        statement = statements[(table, columns)] = RowInsert(table, columns, dialect)
    return statement


def insert_returning_ids(table, rows, connection=None, locks=()):
    """Insert rows in the transaction of `connection` (the session's when None); their new ids,
    in the rows' order.

    The rows are inserted in that order too, so within one transaction their ids increase in it.
    `locks`, (stream, keys) pairs (ordering.py), are taken first; with psycopg2, a single row
    goes in the same round trip as its locks (two statements in one query)."""
    target, dialect = executor(connection)
    statement = _row_insert_for(table, rows, dialect)
    if statement is not None:
        cursor = pooled_connection(connection).cursor()
        try:
            lock = lock_statement(locks) if locks and dialect.name == "postgresql" else None
            if lock is not None and len(rows) == 1 and _joins_statements(dialect, statement):
                return [statement.run(cursor, rows[0], before=lock)]
            lock_stream_keys(locks, connection)
            return [statement.run(cursor, row) for row in rows]
        finally:
            cursor.close()
    lock_stream_keys(locks, connection)
    if len(rows) == 1:
        return [target.execute(insert(table).returning(table.c.id), rows[0]).scalar_one()]
    result = target.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
    return list(result.scalars())


def _row_insert_for(table, rows, dialect):
    """The RowInsert for these rows, or None when they need SQLAlchemy (see the module's docstring)."""
    columns = tuple(sorted(rows[0]))
    if (len(rows) == 1 or dialect.name == "sqlite") and all(tuple(sorted(row)) == columns for row in rows[1:]):
        statement = row_insert(table, columns, dialect)
        if statement.usable:
            return statement
    return None


def _joins_statements(dialect, statement):
    """psycopg2 sends a query as it is, parameters inlined: two statements can share it (the
    result is the last one's). Drivers that prepare statements (psycopg 3) refuse that. The
    lock's parameters must not share a name with a column."""
    return (dialect.driver == "psycopg2" and not statement.positional
            and not LOCK_PARAMETERS & {name for name, _ in statement.binds})
