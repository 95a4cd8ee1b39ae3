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

    def run(self, cursor, row):
        cursor.execute(self.sql, self.params(row))
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


def insert_returning_ids(table, rows, connection=None):
    """Insert rows in the transaction of `connection` (the session's when None); their new ids,
    in the rows' order.

    The rows are inserted in that order too, so within one transaction their ids increase in it."""
    target, dialect = executor(connection)
    columns = tuple(sorted(rows[0]))
    if (len(rows) == 1 or dialect.name == "sqlite") and all(tuple(sorted(row)) == columns for row in rows[1:]):
        statement = row_insert(table, columns, dialect)
        if statement.usable:
            cursor = pooled_connection(connection).cursor()
            try:
                return [statement.run(cursor, row) for row in rows]
            finally:
                cursor.close()
    if len(rows) == 1:
        return [target.execute(insert(table).returning(table.c.id), rows[0]).scalar_one()]
    result = target.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
    return list(result.scalars())
