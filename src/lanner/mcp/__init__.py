"""The MCP server: Kestra's operations as tools for AI agents, and McpToolTrigger flows as tools.

``tools`` defines every tool once (schemas, bounds, results) over the :class:`~lanner.mcp.backend.Backend`
protocol; ``local`` implements it in process over the API's own functions (the built-in server,
``/api/v1[/{tenant}]/mcp``, mounted by ``http``), ``rest`` over the REST API (``lanner mcp``,
stdio, run by ``stdio``). Every module but ``local`` and ``http`` must not import the
server side (``api``, ``engine``, ``store``): the stdio proxy runs on a desktop.
"""
