"""The `tix` command."""

from __future__ import annotations

import argparse
import asyncio

from tixdev.stack import StackConfig, run_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tix", description="Run and inspect TixVibe locally.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("dev", help="run the whole platform locally on embedded defaults")
    args = parser.parse_args(argv)
    if args.command == "dev":
        return asyncio.run(run_stack(StackConfig()))
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
