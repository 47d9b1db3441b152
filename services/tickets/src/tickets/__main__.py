"""`python -m tickets` (or `tix-tickets`): run the tickets service."""

from tickets.app import create_app
from tickets.settings import TicketsSettings
from tixcommon.process import serve


def main() -> None:
    serve(TicketsSettings, create_app)


if __name__ == "__main__":
    main()
