#!/usr/bin/env python3
"""Fuzz the running local API with schemathesis, from infra/openapi.yaml.

Three runs, as anonymous, as a shopper and as an admin (each its own token), with the
checks that say the API keeps its word: no server errors, documented status codes,
content types, response headers and bodies, and invalid input rejected. Deterministic
(a fixed seed) and bounded (examples per operation and a time budget), so a failure is
reproducible and the run always ends. `make test` runs it after pytest; on its own:

  .venv/bin/python infra/fuzz.py --stack .local/test/stack.json

Exit status 0 when every run passed with no failure and no connection error.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import provision  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "infra" / "openapi.yaml"
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
])
SEED = 20261130


def run(stack: dict, who: str, token: str | None, examples: int, seconds: int, report_dir: Path) -> int:
    argv = [str(Path(sys.executable).parent / "schemathesis"), "run", str(SPEC), "--url", stack["apiUrl"],
            "--checks", CHECKS, "--max-examples", str(examples), "--max-time", str(seconds),
            "--seed", str(SEED), "--generation-deterministic", "--request-timeout", "30",
            "--report", "junit", "--report-junit-path", str(report_dir / f"fuzz-{who}.xml")]
    if token:
        argv += ["-H", f"Authorization: Bearer {token}"]
    print(f"==> schemathesis as {who}: {examples} examples an operation, at most {seconds} s", flush=True)
    return subprocess.call(argv, cwd=ROOT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", type=Path, default=ROOT / ".local" / "stack.json")
    parser.add_argument("--examples", type=int, default=20, help="examples per operation and run")
    parser.add_argument("--seconds", type=int, default=60, help="time budget of each run")
    args = parser.parse_args()
    stack = json.loads(args.stack.read_text())
    users = stack["users"]
    tokens = {
        "anonymous": None,
        "shopper": provision.sign_in(stack["awsEndpoint"], stack["userPoolClientId"], users["shopper"]["email"],
                                     users["shopper"]["password"])["IdToken"],
        "admin": provision.sign_in(stack["awsEndpoint"], stack["userPoolClientId"], users["admin"]["email"],
                                   users["admin"]["password"])["IdToken"],
    }
    report_dir = args.stack.parent
    failed = [who for who, token in tokens.items()
              if run(stack, who, token, args.examples, args.seconds, report_dir) != 0]
    if failed:
        print(f"schemathesis found problems as: {', '.join(failed)} (reports in {report_dir})", flush=True)
        return 1
    print("schemathesis: no failures as anonymous, shopper or admin", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
