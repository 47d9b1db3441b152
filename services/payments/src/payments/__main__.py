"""`python -m payments` (or `tix-payments`): run the payments service."""

from payments.app import create_app
from payments.settings import PaymentsSettings
from tixcommon.process import serve


def main() -> None:
    serve(PaymentsSettings, create_app)


if __name__ == "__main__":
    main()
