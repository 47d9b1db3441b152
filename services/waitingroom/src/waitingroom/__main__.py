"""`python -m waitingroom` (or `tix-waitingroom`): run the waiting room."""

from tixcommon.process import serve
from waitingroom.app import create_app
from waitingroom.settings import WaitingRoomSettings


def main() -> None:
    serve(WaitingRoomSettings, create_app)


if __name__ == "__main__":
    main()
