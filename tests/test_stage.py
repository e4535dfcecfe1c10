"""A `prod` function refuses to take payments with anything but a live key on Stripe's
own API: it logs why and exits before its first event (Lambda reports a failed init).

Each test starts the `order-api` binary that `cargo lambda watch` built, with the local
stack's environment but `STAGE=prod`, and points its Lambda runtime API at a socket that
accepts and never answers, so the process waits for an event it never gets: only the
refusal can end it.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from support import REPO

BINARY = REPO / "target" / "debug" / "order-api"
EXIT_WITHIN_SECONDS = 60  # a bound on a failure, never a speed check


@pytest.fixture
def silent_runtime_api():
    """host:port of a listener that accepts connections and never replies."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        host, port = server.getsockname()
        yield f"{host}:{port}"


def lambda_env(stack: dict, runtime_api: str, **overrides: str | None) -> dict[str, str]:
    """The stack's function env, what Lambda sets for a function, then overrides (None
    removes a variable)."""
    assert BINARY.exists(), f"{BINARY} is missing: the local stack builds it (make test)"
    env = {**stack["functionEnv"], "AWS_LAMBDA_RUNTIME_API": runtime_api, "PATH": "/usr/bin:/bin",
           "AWS_LAMBDA_FUNCTION_NAME": "order-api", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
           "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/order-api",
           "AWS_LAMBDA_LOG_STREAM_NAME": "test"}
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def start(stack: dict, runtime_api: str, **overrides: str | None) -> subprocess.CompletedProcess | None:
    """Runs order-api; returns the finished process, or None if it was still running at the bound."""
    try:
        return subprocess.run([str(BINARY)], env=lambda_env(stack, runtime_api, **overrides),
                              capture_output=True, text=True, timeout=EXIT_WITHIN_SECONDS)
    except subprocess.TimeoutExpired:
        return None


def test_prod_refuses_an_emulated_stripe(stack, silent_runtime_api):
    done = start(stack, silent_runtime_api, STAGE="prod")  # STRIPE_API_BASE is localstripe
    assert done is not None, "order-api kept running in prod against localstripe"
    assert done.returncode != 0
    assert "refusing to start" in done.stdout + done.stderr
    assert "api.stripe.com" in done.stdout + done.stderr


def test_prod_refuses_a_test_key(stack, silent_runtime_api):
    # Stripe's real API, and the local SSM parameter, which holds an sk_test_ key.
    done = start(stack, silent_runtime_api, STAGE="prod", STRIPE_API_BASE=None)
    assert done is not None, "order-api kept running in prod with a test key"
    assert done.returncode != 0
    assert "refusing to start" in done.stdout
    assert "live Stripe key" in done.stdout


def test_dev_starts_with_its_test_key(stack, silent_runtime_api):
    """The control: the same start in `dev` waits for its first event."""
    with socket.create_connection(tuple(silent_runtime_api.rsplit(":", 1))) as probe:
        assert probe  # the listener is up
    proc = subprocess.Popen([str(BINARY)], env=lambda_env(stack, silent_runtime_api, STAGE="dev"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    finally:
        proc.kill()
        output = proc.communicate()[0]
    assert "refusing" not in output, output
