"""Kestra's script tasks (``io.kestra.plugin.scripts.*``) run as local processes: the shared
properties and run in ``base``, the process runner in ``process``, the ``::{...}::`` output
protocol in ``protocol``, one module per language (``shell``, ``python``, ``node``); each
language module's ``MODELS`` lists its types for the registry, and ``lanner.tasks.catalog``
their names (a module is imported when one is first resolved)."""
