"""`python -m expiration` (or `tix-expiration`): run the expiration service's HTTP side."""

from expiration.app import create_app
from expiration.settings import ExpirationSettings
from tixcommon.process import serve


def main() -> None:
    serve(ExpirationSettings, create_app)


if __name__ == "__main__":
    main()
