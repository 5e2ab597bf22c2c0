"""Task, trigger and condition types: one class per type, grouped by family under ``core/``.

A class declares every property of its Kestra type (the union of 0.20 and 1.3 names), which ones
are required, and whether the type is flowable (its child branches, resolved by the executor) or
runnable (``async def run(self, ctx)``, see ``context``). Child task lists are validated by the
flow parser, not here. ``registry`` maps type names and aliases to classes, importing a core
family's module the first time one of its names (listed in ``catalog``) is resolved;
third-party types come from the ``lanner.tasks`` entry-point group. Must not import the engine,
the store (except for type checking), the API or the flow parser.
"""
