"""The store's contracts: records and async protocols the rest of Lanner programs against.

One module per aggregate (``flows``, ``tokens``, ``executions``, ``queue``, ``logs``, ``kv``),
``pages`` for what their searches share, ``store`` for the :class:`Store` that gathers them.
Callers import these names from :mod:`lanner.store`. These modules import only the standard
library, the domain and ``lanner.errors``: never SQLAlchemy, a driver, the engine or the API.
"""
