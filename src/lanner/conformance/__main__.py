"""``python -m lanner.conformance DIR [--json FILE] [--markdown FILE]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from lanner.conformance.runner import run_corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lanner.conformance",
        description="Run Kestra's flow corpus on an in-process Lanner and compare end states.",
    )
    parser.add_argument("directory", type=Path, help="the corpus' valid/ directory")
    parser.add_argument("--json", type=Path, help="write the JSON report here")
    parser.add_argument("--markdown", type=Path, help="write the markdown report here")
    parser.add_argument("--only", action="append", help="run only these files (repeatable)")
    parser.add_argument("--concurrency", type=int, default=8, help="flows run at once")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per flow")
    parser.add_argument("--verbose", action="store_true", help="show the server's warnings")
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        parser.error(f"{args.directory} is not a directory")
    logger = logging.getLogger("lanner")
    level = logger.level
    if not args.verbose:  # the corpus holds flows that warn by design (an invalid trigger)
        logger.setLevel(logging.ERROR)
    try:
        report = asyncio.run(
            run_corpus(
                args.directory,
                only=set(args.only) if args.only else None,
                concurrency=args.concurrency,
                timeout_s=args.timeout,
            )
        )
    finally:
        logger.setLevel(level)
    if args.json:
        args.json.write_text(report.to_json(), encoding="utf-8")
    markdown = report.to_markdown()
    if args.markdown:
        args.markdown.write_text(markdown, encoding="utf-8")
    sys.stdout.write(markdown)
    return 0 if not report.unexpected() else 1


if __name__ == "__main__":
    raise SystemExit(main())
