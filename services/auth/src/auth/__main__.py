"""`python -m auth` (or `tix-auth`): run the auth service with settings from the environment."""

from auth.app import create_app
from auth.settings import AuthSettings
from tixcommon.process import serve


def main() -> None:
    serve(AuthSettings, create_app)


if __name__ == "__main__":
    main()
