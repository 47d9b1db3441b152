"""The `tix` command."""

from __future__ import annotations

import argparse
import asyncio
import sys

from tixdev import commands as commands_module
from tixdev.mailbox import mail_command
from tixdev.stack import StackConfig, run_stack
from tixdev.traces import trace_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tix", description="Run and inspect TixVibe locally.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("dev", help="run the whole platform locally on embedded defaults")
    commands.add_parser("status", help="each component's health, of the running stack")
    commands.add_parser("seed", help="demo users and tickets, so the site is not empty")
    events = commands.add_parser("events", help="the event stream")
    events_commands = events.add_subparsers(dest="events_command", required=True)
    follow = events_commands.add_parser("tail", help="follow events live, pretty-printed")
    follow.add_argument("subject", nargs="?", help="e.g. order.created (default: every subject)")
    follow.add_argument("--count", type=int, help="stop after this many events")
    journey = commands.add_parser("trace", help="one request's journey through every service")
    journey.add_argument("request_id", help="its X-Request-Id (every response carries one)")
    mail = commands.add_parser("mail", help="the mail the local SMTP server received")
    mail.add_argument("number", nargs="?", type=int, help="print message n (default: list them)")
    args = parser.parse_args(argv)
    try:
        if args.command == "dev":
            return asyncio.run(run_stack(StackConfig()))
        if args.command == "status":
            return commands_module.status()
        if args.command == "seed":
            return commands_module.seed()
        if args.command == "mail":
            return mail_command(StackConfig().mail_dir, args.number)
        if args.command == "trace":
            return trace_command(commands_module.data_dir(), args.request_id)
        return commands_module.events_tail(args.subject, args.count)
    except commands_module.StackNotRunning as error:
        print(error, file=sys.stderr)  # noqa: T201
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
