"""`python -m orders` (or `tix-orders`): run the orders service."""

from orders.app import create_app
from orders.settings import OrdersSettings
from tixcommon.process import serve


def main() -> None:
    serve(OrdersSettings, create_app)


if __name__ == "__main__":
    main()
