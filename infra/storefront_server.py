#!/usr/bin/env python3
"""Serve storefront/ as static files, with this stack's config.json beside them.

The files are the ones CloudFront serves in AWS; only config.json differs (there the
publish step writes it from the stack's outputs), so it comes from --config rather
than from storefront/, where stacks running side by side would overwrite each other's.

  infra/storefront_server.py --port 9200 --config .local/dev/storefront-config.json
"""

from __future__ import annotations

import argparse
import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Handler(SimpleHTTPRequestHandler):
    config: Path

    def translate_path(self, path: str) -> str:
        if path.split("?", 1)[0] == "/config.json":
            return str(self.config)
        return super().translate_path(path)

    def end_headers(self) -> None:
        # Every load sees the files as they are now: a developer edits them in place.
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        print(f"{self.address_string()} {format % args}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", type=Path, required=True, help="served as /config.json")
    args = parser.parse_args()
    Handler.extensions_map = {**Handler.extensions_map, ".js": "text/javascript"}  # ES modules need it
    Handler.config = args.config.resolve()
    handler = functools.partial(Handler, directory=str(ROOT / "storefront"))
    ThreadingHTTPServer((args.host, args.port), handler).serve_forever()


if __name__ == "__main__":
    main()
