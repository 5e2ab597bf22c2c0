"""Command-line entry points: ``lanner`` (server, admin, client commands) and ``kestra-ws``."""
