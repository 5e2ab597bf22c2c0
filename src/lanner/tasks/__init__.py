"""Task, trigger and condition types: one pydantic property model per type, grouped by family.

A model declares every property of its Kestra type (the union of 0.20 and 1.3 names), which ones
are required, and whether the type is flowable (its child branches) or runnable. Child task lists
are validated by the flow parser, not here. ``registry`` maps type names and aliases to models.
"""
