"""The ``jq`` filter compiles each program once and shares it between threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from lanner.templating import sequences
from lanner.templating.sequences import JQ_PROGRAM_CACHE_SIZE, jq_filter


def test_a_program_is_compiled_once_and_reused() -> None:
    expression = ".[] | select(. > 1) | . * 10  # cache test"
    misses = sequences._jq_program.cache_info().misses
    assert jq_filter([1, 2, 3], expression) == [20, 30]
    assert jq_filter([5], expression) == [50]
    info = sequences._jq_program.cache_info()
    assert info.misses == misses + 1
    assert info.maxsize == JQ_PROGRAM_CACHE_SIZE


def test_a_shared_program_gives_each_thread_its_own_result() -> None:
    expression = ".items | map(. + 1) | add"

    def run(n: int) -> list[int]:
        return [jq_filter({"items": [n, n, n]}, expression)[0] for _ in range(50)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, range(64)))
    assert results == [[3 * n + 3] * 50 for n in range(64)]
