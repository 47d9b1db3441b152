"""`python -m webclient` (or `tix-client`): serve the web client, configured by the environment."""

from tixcommon.process import serve
from webclient.app import create_app
from webclient.settings import ClientSettings


def main() -> None:
    serve(ClientSettings, create_app)


if __name__ == "__main__":
    main()
