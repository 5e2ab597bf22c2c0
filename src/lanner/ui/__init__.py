"""The web UI: server-rendered pages at Kestra's ``/ui/{tenant}/...`` addresses (``pages``)."""
