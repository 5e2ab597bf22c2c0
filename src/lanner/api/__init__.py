"""HTTP API: FastAPI routers, one per Kestra resource, Kestra's wire format and error bodies.

Imports the domain, the store protocols, parsing and templating; never a database driver.
"""
