"""moto's server, with DynamoDB requests served one at a time.

DynamoDB isolates every request; moto does not. Its server handles requests on parallel
threads, applies a transaction's items one by one, and undoes a cancelled transaction by
restoring a copy of each table taken before it started. Two requests at once can then
see half a transaction, lose a write to another transaction's rollback, or fail with a
500 when the copy is taken mid-write. Serialising DynamoDB (and nothing else: SQS long
polls must not block the store) gives tests and `make dev` the isolation the adapters
rely on in AWS.

It keeps no record of DynamoDB's model objects (see `dynamodb_models_untracked`).

It also completes moto's ConfirmSignUp: moto sends no code and accepts any, but leaves
the address unverified, where Cognito marks it verified (the shopper proved it with the
mailed code). Without that a shopper who signs up in the storefront would get no mail.

Usage: python infra/moto_server.py -H 127.0.0.1 -p 5050
"""

import argparse
import io
import json
import os
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def one_dynamodb_request_at_a_time(app: WsgiApp) -> WsgiApp:
    turn = threading.Lock()

    def serve(environ: dict, start_response: Callable) -> Iterable[bytes]:
        # DynamoDB and DynamoDB Streams both name their operation in X-Amz-Target.
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return app(environ, start_response)
        with turn:
            return list(app(environ, start_response))  # the whole response, inside the turn

    return serve


def confirm_sign_up_verifies_the_email(app: WsgiApp) -> WsgiApp:
    target = "AWSCognitoIdentityProviderService.ConfirmSignUp"

    def serve(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET") != target:
            return app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        status = []

        def remember(code, headers, exc_info=None):
            status.append(code)
            return start_response(code, headers, exc_info)

        answer = list(app(environ, remember))
        if status and status[0].startswith("200"):
            from moto.cognitoidp.models import cognitoidp_backends

            request = json.loads(body)
            for backends in cognitoidp_backends.values():
                for region, backend in backends.items():
                    for pool in [] if region == "global" else backend.user_pools.values():
                        if request["ClientId"] in pool.clients:
                            backend.admin_update_user_attributes(
                                pool.id, request["Username"], [{"Name": "email_verified", "Value": "true"}])
        return answer

    return serve


def dynamodb_models_untracked() -> None:
    """moto keeps every model object it ever makes, for `GET /moto-api/data.json`, and it
    copies each table a transaction writes (to undo it if cancelled): the local stack kept
    every item of every copy, 14 GB after the bench's 300 orders. Tests read SES's and
    SNS's models there, never DynamoDB's."""
    from moto.core.common_models import BaseModel

    def new(cls, *args, **kwargs):
        instance = super(BaseModel, cls).__new__(cls)
        if not cls.__module__.startswith(("moto.dynamodb.", "moto.dynamodbstreams.")):
            cls.instances_tracked.append(instance)
        return instance

    BaseModel.__new__ = staticmethod(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto_server does: CloudFormation builds URLs from it
    dynamodb_models_untracked()
    app = DomainDispatcherApplication(create_backend_app)
    if os.environ.get("BOOKISH_COUNT_AWS_CALLS") == "1":
        # The bench counts AWS calls: DynamoDB's units as it bills them, not moto's constants.
        sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
        import capacity

        app = capacity.billed_capacity(app)  # inside the one-at-a-time turn: items read before and after
    run_simple(args.host, args.port, confirm_sign_up_verifies_the_email(one_dynamodb_request_at_a_time(app)),
               threaded=True)


if __name__ == "__main__":
    main()
