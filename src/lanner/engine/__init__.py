"""The engine: the executor (a pure decision function and the loop applying its decisions),
the worker running runnable tasks, and the change feed that wakes waiters.

Imports the domain, templating, tasks and the store *protocols*; never a database driver.
"""
