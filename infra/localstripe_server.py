#!/usr/bin/env python3
"""localstripe (a stateful fake of Stripe's API) on loopback, with its state in memory,
and with Stripe's idempotent requests.

- `localstripe --port N` binds every interface and keeps its state in
  /tmp/localstripe.pickle, shared by every instance on the machine. This launcher serves
  the same aiohttp app on 127.0.0.1 only and does not load or write that file, so each
  local stack starts from an empty Stripe and two stacks never share one.
- localstripe accepts the `Idempotency-Key` header and ignores it: a repeated POST makes
  a second object. Stripe keeps the first answer to a key (status and body) and gives it
  again for the same key, without acting twice. A middleware here does the same, so a
  retried charge or refund behaves locally as it does against Stripe. (Stripe answers a
  request that arrives while the first with its key is still running with 409; here it
  waits for the first and gets its answer.)

  infra/localstripe_server.py -p 8421
"""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web
from localstripe.resources import store
from localstripe.server import app


def idempotency() -> web.middleware:
    """Replays the first answer to each (secret key, Idempotency-Key) pair of a POST."""
    answers: dict[tuple[str, str], asyncio.Future] = {}

    @web.middleware
    async def replay(request: web.Request, handler):
        if request.method == "DELETE" and request.path == "/_config/data":
            answers.clear()  # a reset forgets the answers with the objects
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return await handler(request)
        slot = (request.headers.get("Authorization", ""), key)
        if slot in answers:
            status, body, content_type = await asyncio.shield(answers[slot])
            return web.Response(status=status, body=body, content_type=content_type,
                                headers={"Idempotent-Replayed": "true"})
        answers[slot] = asyncio.get_running_loop().create_future()
        try:
            response = await handler(request)
        except web.HTTPException as err:
            response = err
        except Exception:
            # Stripe does not keep an answer it failed to give (a 500): the key may be retried.
            answers.pop(slot).cancel()
            raise
        answers[slot].set_result((response.status, response.body, response.content_type))
        return response

    return replay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    store.dump_to_disk = lambda: None  # state lives as long as the process
    app.middlewares.insert(0, idempotency())
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
