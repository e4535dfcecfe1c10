"""The ways to close the init gap, each measured against the committed code (make bench's
`init-options` phase; BENCHMARKS.md, "Init options").

An option is either a patch to the committed code (`init-options/<name>.patch`), built with the
release profile in a scratch worktree, or a change to the function's environment that needs no
build. Each variant is exec'd beside the committed binary of the same name, in shuffled rounds
with the floor, exactly as the cold phase does (init, and first response to the same event).

Builds use a target directory of their own: a worktree sharing the main one would be taken
for fresh by cargo (it fingerprints a crate by its sources' paths and times, and the paths are
the main tree's), and would overwrite `target/release`, which the other phases measure.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import runtime_api
from report import FLOOR, LAZY_CLIENTS

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PATCHES = HERE / "init-options"
TARGET = ROOT / "target" / "init-options"


@dataclass
class Option:
    name: str
    what: str
    verdict: str  # taken, or why not
    binaries: list[str]
    patch: bool = False  # init-options/<name>.patch, else an environment change
    tracing: bool = True


OPTIONS = [
    Option("config-per-client",
           "each SDK client builds its own configuration (the code before this option was taken): an HTTPS "
           "client with its TLS setup, once per client",
           "taken: one `aws::config()` per binary, built in `main` and handed to every client; the table shows "
           "what it bought (the committed binary is the option)",
           ["order-api", "cart"], patch=True),
    Option("default-chains",
           "the SDK's default credential and region chains (the code before this option was taken), which also "
           "read the profile files and know web identity, SSO, the container and instance metadata, instead of "
           "the environment only, where Lambda puts credentials and region",
           "taken: a function never uses the other sources, and the chains link an STS client into every "
           "binary; the table shows what it bought (the committed binary is the option)",
           ["catalog-read", "order-api"], patch=True),
    Option("stripe-on-first-payment",
           "no Stripe warm-up at init: the key's SSM read and the Stripe client's TLS setup wait for the first "
           "payment",
           "not taken: it moves the cost into the first checkout, where it adds a network round trip to SSM on "
           "top; at init it overlaps the Runtime API's first poll",
           ["order-api"], patch=True),
    Option(LAZY_CLIENTS,
           "every AWS SDK client (and, in `order-api`, the Stripe warm-up) built by the first request that "
           "needs it instead of at init",
           "not taken: it moves the clients' setup into the first response rather than removing it, and a "
           "configuration error then fails a shopper's request instead of the function's init",
           ["order-api", "catalog-read"], patch=True),
    Option("traces-off",
           "`Tracing: PassThrough`: no X-Ray daemon address, so no OpenTelemetry pipeline or UDP socket is "
           "built (the function's own binary, another environment)",
           "not taken: one trace per order is a requirement (the observability issue); this is its init cost",
           [], tracing=False),
]


def packages_of(binaries: list[str], packages: dict[str, list[str]]) -> dict[str, str]:
    return {b: package for package, bins in packages.items() for b in bins if b in binaries}


def variant_path(option: Option, binary: str) -> Path:
    return TARGET / "variants" / option.name / binary


def build(packages: dict[str, list[str]], log: Callable[[str], None]) -> None:
    """Each patched option's binaries, from a worktree of HEAD with the patch applied."""
    tree = TARGET / "src"
    subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), "HEAD"], cwd=ROOT, check=True,
                   capture_output=True)
    try:
        for option in OPTIONS:
            if not option.patch:
                continue
            log(f"init option {option.name}: building {', '.join(option.binaries)}")
            subprocess.run(["git", "apply", str(PATCHES / f"{option.name}.patch")], cwd=tree, check=True)
            for binary, package in packages_of(option.binaries, packages).items():
                subprocess.run(["cargo", "build", "--release", "-q", "-p", package, "--bin", binary], cwd=tree,
                               check=True, env={**os.environ, "CARGO_TARGET_DIR": str(TARGET)})
                variant_path(option, binary).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(TARGET / "release" / binary, variant_path(option, binary))
            subprocess.run(["git", "checkout", "--", "."], cwd=tree, check=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)


def phase(subjects, rounds: int, summarize: Callable[[list[float]], dict], release: Path,
          log: Callable[[str], None] = print) -> dict:
    """Every option's variants beside the committed binaries and the floor, in shuffled rounds.
    `subjects` is bench.py's Subjects (environment, events, checks)."""
    options = [o if o.binaries else replace(o, binaries=subjects.binaries) for o in OPTIONS]
    # (label, binary, argv, tracing); the label keys the samples
    runs: dict[str, tuple[str, list[str], bool]] = {FLOOR: (FLOOR, subjects.start_args(FLOOR)[0], True)}
    for option in options:
        for binary in option.binaries:
            runs[binary] = (binary, [str(release / binary)], True)
            path = variant_path(option, binary) if option.patch else release / binary
            runs[f"{binary} {option.name}"] = (binary, [str(path)], option.tracing)
    log(f"init options: {rounds} rounds of {len(runs)} subjects (plus one untimed round)")
    samples: dict[str, dict[str, list[float]]] = {label: {"init": [], "first": []} for label in runs}
    rng = random.Random(3)
    for round_no in range(rounds + 1):
        labels = list(runs)
        rng.shuffle(labels)
        for label in labels:
            binary, argv, tracing = runs[label]
            result = runtime_api.cold_start(binary, argv, subjects.env_for(binary), ROOT,
                                            subjects.logs / f"{binary}.log", subjects.event(binary), tracing=tracing)
            subjects.saw(binary, result.response)
            if round_no:  # the first round only warms the page cache
                samples[label]["init"].append(result.init_ms)
                samples[label]["first"].append(result.first_response_ms)
        print(f"    round {round_no}/{rounds}", flush=True)

    def measured(label: str) -> dict:
        return {"init_ms": summarize(samples[label]["init"]), "first_response_ms": summarize(samples[label]["first"])}

    return {
        "floor": measured(FLOOR),
        "options": [{"name": o.name, "what": o.what, "verdict": o.verdict,
                     "how": f"`infra/bench/init-options/{o.name}.patch`" if o.patch else "the environment",
                     "binaries": {b: {"committed": measured(b), "option": measured(f"{b} {o.name}")}
                                  for b in o.binaries}}
                    for o in options],
    }
