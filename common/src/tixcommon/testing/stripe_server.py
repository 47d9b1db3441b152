"""A Stripe-compatible server for tests and `make dev`: localstripe, bound to 127.0.0.1, its
state kept in a folder of ours (its own command line binds every interface and writes to
/tmp/localstripe.pickle).

    python -m tixcommon.testing.stripe_server --port 8420 --state-dir .dev/stripe
"""

from __future__ import annotations

import argparse
import logging
import pickle
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args()

    from aiohttp import web
    from localstripe import resources, server

    state = args.state_dir / "localstripe.pickle"
    args.state_dir.mkdir(parents=True, exist_ok=True)

    def load(store: resources.Store) -> None:
        if state.exists():
            with state.open("rb") as file:
                saved = pickle.load(file)
            dict.clear(store)
            dict.update(store, saved)

    def dump(store: resources.Store) -> None:
        with state.open("wb") as file:
            pickle.dump(dict(store), file, protocol=pickle.HIGHEST_PROTOCOL)

    resources.Store.try_load_from_disk = load
    resources.Store.dump_to_disk = dump
    resources.store.try_load_from_disk()
    logging.basicConfig(level=logging.WARNING)
    web.run_app(server.app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
