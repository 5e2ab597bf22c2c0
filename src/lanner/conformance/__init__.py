"""Kestra's own flow corpus, run on a real in-process server: the compatibility proof.

``python -m lanner.conformance DIR`` deploys every flow of ``DIR`` (Kestra's
``core/src/test/resources/flows/valids``), prepares what Kestra's test harness prepares
(secrets, KV entries, namespace files, FILE inputs), runs each runnable flow and compares its
end state and task runs with the expectation table (``expectations.tsv``, one row per file,
each naming the Kestra test it comes from).
"""

from lanner.conformance.expectations import Expectation, load_expectations
from lanner.conformance.runner import Outcome, Report, run_corpus

__all__ = ["Expectation", "Outcome", "Report", "load_expectations", "run_corpus"]
