"""``python -m client``: the app in a window (desktop) or, with ``--web``, served to browsers.

python -m client                       # desktop (needs flet-desktop's client)
python -m client --web --port 8550     # web client on http://127.0.0.1:8550 (starts offline)
CAMPOTECH_API_URL=http://127.0.0.1:8000 python -m client --web
"""

from __future__ import annotations

import argparse

import flet as ft

from client.app import api_base_from_env, main, run_web


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m client", description="CampoTech client")
    parser.add_argument("--web", action="store_true", help="serve the web client instead of opening a window")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8550)
    parser.add_argument("--api", default=None, help="API base URL (default: $CAMPOTECH_API_URL or 127.0.0.1:8000)")
    args = parser.parse_args(argv)
    if args.web:
        run_web(args.host, args.port, args.api or api_base_from_env())
    else:
        ft.run(main)


if __name__ == "__main__":
    cli()
