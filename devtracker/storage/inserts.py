"""INSERT ... RETURNING id for the write path, compiled once and run on the driver's cursor.

Every notification and activity is one such insert. SQLAlchemy's execution of it (cache key,
compiled-statement lookup, execution context, result object) took ~12 % of a notify's CPU at
800 notifications/s; the statement itself, in the driver, ~2 %. `RowInsert` keeps what
SQLAlchemy would have done for these tables: the SQL its compiler writes for the dialect and
each column type's own bind processor (JSON, dates, booleans), so the stored values are the
same. Several rows on PostgreSQL (a group commit's batch) go in one statement, `RowsInsert`,
of the form SQLAlchemy's own "insertmanyvalues" uses there: INSERT ... SELECT ... FROM
(VALUES ...) ORDER BY position RETURNING id, whose ids are handed out in that order. Anything
else goes through SQLAlchemy as before: a row with other columns (a column default to run), or
more rows than `MAX_ROWS` at once.
"""
import weakref

from sqlalchemy import Integer, bindparam, cast, column, insert, literal_column, select, values

from ..extensions import executor, pooled_connection
from .ordering import LOCK_PARAMETERS, lock_statement, lock_stream_keys

MAX_ROWS = 32  # RowsInsert's statements are compiled per number of rows: up to this many

# engine dialect -> {(table, columns): RowInsert, (table, columns, rows): RowsInsert}. Per
# dialect object, not per dialect name: the SQL's placeholders follow its driver, and a JSON
# bind processor its engine's serializer.
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
        _execute(cursor, self.sql, self.params(row), before)
        return cursor.fetchone()[0]

    def run_all(self, cursor, rows, before=None):
        """Insert `rows`, one statement each (`before` goes with the first); their new ids."""
        return [self.run(cursor, rows[0], before)] + [self.run(cursor, row) for row in rows[1:]]


class RowsInsert:
    """`count` rows of one table and columns in one statement (PostgreSQL); their new ids, in
    the rows' order."""

    def __init__(self, table, columns, count, dialect):
        one = row_insert(table, columns, dialect)
        batch = values(*[column(name, table.c[name].type) for name in columns],
                       column("position", Integer), name="batch")
        batch = batch.data([tuple(bindparam(f"r{i}_{name}", type_=table.c[name].type) for name in columns)
                            + (literal_column(str(i), Integer),) for i in range(count)])
        statement = insert(table).from_select(
            list(columns), select(*[cast(batch.c[name], _unbounded(table.c[name].type)) for name in columns])
            .order_by(batch.c.position)).returning(table.c.id)
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = compiled.positional
        self.binds = [(f"r{i}_{name}", process) for i in range(count) for name, process in one.binds]
        self.usable = (one.usable and not self.positional
                       and set(compiled.binds) == {name for name, _ in self.binds})
        self._processors = one.binds

    def params(self, rows):
        out = {}
        for i, row in enumerate(rows):
            for name, process in self._processors:
                out[f"r{i}_{name}"] = row[name] if process is None else process(row[name])
        return out

    def run_all(self, cursor, rows, before=None):
        """Insert the rows (`before`, `(sql, named params)`, sent ahead in the same query); their
        ids, smallest first: the order they were handed out in, which is the rows' order."""
        _execute(cursor, self.sql, self.params(rows), before)
        return sorted(row[0] for row in cursor.fetchall())


def _execute(cursor, sql, params, before=None):
    """Run `sql`; `before`, `(sql, named params)`, goes ahead of it in the same query."""
    if before is None:
        cursor.execute(sql, params)
    else:
        cursor.execute(f"{before[0]}; {sql}", {**before[1], **params})


def _unbounded(type_):
    """A column's type without its length: a cast to VARCHAR(n) would cut a longer value short,
    where the insert refuses it."""
    return type(type_)() if getattr(type_, "length", None) else type_


def _cached(dialect, key, build):
    statements = _compiled.get(dialect)
    if statements is None:
        statements = _compiled[dialect] = {}
    statement = statements.get(key)
    if statement is None:
        statement = statements[key] = build()
    return statement


def rows_insert(table, columns, count, dialect):
    """The RowsInsert of `count` rows of `table` with exactly `columns` (sorted names)."""
    return _cached(dialect, (table, columns, count), lambda: RowsInsert(table, columns, count, dialect))


def row_insert(table, columns, dialect):
    """The RowInsert of `table` for rows with exactly `columns` (sorted names), on `dialect`."""
    return _cached(dialect, (table, columns), lambda: RowInsert(table, columns, dialect))


def insert_returning_ids(table, rows, connection=None, locks=()):
    """Insert rows in the transaction of `connection` (the session's when None); their new ids,
    in the rows' order.

    The rows are inserted in that order too, so within one transaction their ids increase in it.
    `locks`, (stream, keys) pairs (ordering.py), are taken first; with psycopg2, in the same
    round trip as a compiled insert (two statements in one query)."""
    target, dialect = executor(connection)
    statement = _statement_for(table, rows, dialect)
    if statement is not None:
        cursor = pooled_connection(connection).cursor()
        try:
            lock = lock_statement(locks) if locks and dialect.name == "postgresql" else None
            if lock is not None and _joins_statements(dialect, statement):
                return statement.run_all(cursor, rows, before=lock)
            lock_stream_keys(locks, connection)
            return statement.run_all(cursor, rows)
        finally:
            cursor.close()
    lock_stream_keys(locks, connection)
    if len(rows) == 1:
        return [target.execute(insert(table).returning(table.c.id), rows[0]).scalar_one()]
    result = target.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
    return list(result.scalars())


def _statement_for(table, rows, dialect):
    """The RowInsert or RowsInsert for these rows, or None when they need SQLAlchemy (see the
    module's docstring)."""
    columns = tuple(sorted(rows[0]))
    if any(tuple(sorted(row)) != columns for row in rows[1:]):
        return None
    if len(rows) == 1 or dialect.name == "sqlite":
        statement = row_insert(table, columns, dialect)
    elif dialect.name == "postgresql" and len(rows) <= MAX_ROWS:
        statement = rows_insert(table, columns, len(rows), dialect)
    else:
        return None
    return statement if statement.usable else None


def _joins_statements(dialect, statement):
    """psycopg2 sends a query as it is, parameters inlined: two statements can share it (the
    result is the last one's). Drivers that prepare statements (psycopg 3) refuse that. The
    lock's parameters must not share a name with a column."""
    return (dialect.driver == "psycopg2" and not statement.positional
            and not LOCK_PARAMETERS & {name for name, _ in statement.binds})
