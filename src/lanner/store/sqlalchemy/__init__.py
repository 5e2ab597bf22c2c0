"""The store on SQLAlchemy Core: one code path for SQLite and PostgreSQL.

``schema`` (every table) and ``migrations`` (Alembic, applied at start); ``engines`` (URLs,
connections), ``writer`` (the one writer thread, batched transactions) and ``readers`` (the
reader threads); one query module per aggregate (``flows``, ``tokens``, ``executions``,
``queue``, ``logs``, ``kv``), sync functions of a ``Connection``; ``store`` (``SqlStore``, the
:class:`~lanner.store.Store` that hands them to the writer or a reader); for PostgreSQL
clusters ``notifications`` (``LISTEN/NOTIFY``) and ``leadership`` (advisory lock). Only this
package imports SQLAlchemy and the drivers; it never imports the engine or the API, and
nothing here connects at import.
"""
