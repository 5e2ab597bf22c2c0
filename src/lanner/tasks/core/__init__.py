"""Kestra's core task, trigger and condition types, one module per family (``log``, ``debug``,
``output``, ``execution``, ``flow``, ``subflow``, ``kv``, ``http``, ``storage``, ``trigger``,
``condition``); each module's ``MODELS`` lists its types for the registry, and
``lanner.tasks.catalog`` their names (a module is imported when one is first resolved)."""
