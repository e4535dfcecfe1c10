#!/usr/bin/env python3
"""Which services a change affects: the one answer every pipeline and `make test SERVICE=`
relies on, so a change is tested and shipped by exactly the services it can break.

A changed path selects:
  docs (*.md, docs/, LICENSE), infra/bench/, storefront/
                          no service: they ship nothing a service runs
  functions/<crate>/...   every service whose crate is, or depends on, <crate>, following
                          the workspace's dependency graph from `cargo metadata` (so a
                          change to functions/shared/ selects all of them)
  anything else           every service (build files, the lock file, the local stack, the
                          platform template, CI): testing too much is cheaper than
                          shipping an untested service

  infra/affected.py [--base REV] [--json] [PATH ...]

With no PATH it reads `git diff --name-only REV...HEAD` (REV defaults to origin/main).
It prints the services, one a line (or a JSON array with --json), in a stable order.

It also says what `make test SERVICE=<service>` runs: the service's crate and the workspace
crates it builds on (`cargo test -p ...`), and its black-box tests (SERVICE_TESTS below).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
# Prefixes and suffixes whose changes no service can feel.
NO_SERVICE_PREFIXES = ("docs/", "infra/bench/", "storefront/")
NO_SERVICE_SUFFIXES = (".md",)
NO_SERVICE_FILES = ("LICENSE",)

# Black-box tests (tests/test_*.py) by the services whose behaviour they assert; a file may
# belong to several (a checkout reads the cart, reserves stock and sends the confirmation).
SERVICE_TESTS = {
    "catalog": ["test_admin_crud.py", "test_auth.py", "test_filters.py", "test_get.py",
                "test_headers.py", "test_list.py", "test_lookup.py", "test_validation.py"],
    "cart": ["test_cart.py", "test_checkout.py"],
    "order": ["test_checkout.py", "test_limits.py", "test_payments.py", "test_redelivery.py",
              "test_stage.py"],
    "inventory": ["test_checkout.py", "test_inventory.py", "test_redelivery.py"],
    "notification": ["test_checkout.py", "test_redelivery.py"],
}
# Run with every service: checks that span all of them (every route, every function's
# metrics and spans, every invoke target, the OpenAPI document) and tests/infra/, which
# needs no stack and checks the templates and local tooling every service ships through.
# tests/browser/ (the storefront, no service's own) and the API fuzzer run only in the
# full `make test`.
SHARED_TESTS = ["test_artifacts.py", "test_cors.py", "test_forged_invoke.py", "test_metrics.py",
                "test_trace.py", "infra/"]


@dataclass(frozen=True)
class Workspace:
    """crate name -> its folder (relative to the root), and each crate's workspace deps."""

    folders: dict[str, str]
    deps: dict[str, set[str]]
    services: tuple[str, ...]

    def dependencies(self, crate: str) -> set[str]:
        """`crate` and every workspace crate it reaches through its (dev-)dependencies."""
        found, todo = set(), [crate]
        while todo:
            name = todo.pop()
            if name not in found:
                found.add(name)
                todo.extend(self.deps[name])
        return found

    def dependents(self, crate: str) -> set[str]:
        """`crate` and every workspace crate that reaches it through its dependencies."""
        found = {crate}
        changed = True
        while changed:
            changed = False
            for name, deps in self.deps.items():
                if name not in found and deps & found:
                    found.add(name)
                    changed = True
        return found


def workspace() -> Workspace:
    """The graph as cargo resolves it: services are the crates under functions/ with a binary."""
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--offline"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    folders, deps, services = {}, {}, []
    for package in meta["packages"]:
        folder = PurePosixPath(Path(package["manifest_path"]).parent.relative_to(ROOT).as_posix())
        folders[package["name"]] = str(folder)
        deps[package["name"]] = {d["name"] for d in package["dependencies"] if d.get("path")}
        is_binary = any("bin" in target["kind"] for target in package["targets"])
        if folder.parent == PurePosixPath("functions") and is_binary:
            services.append(package["name"])
    return Workspace(folders, deps, tuple(sorted(services)))


def affected(paths: list[str], ws: Workspace) -> list[str]:
    selected: set[str] = set()
    for path in paths:
        if path.startswith(NO_SERVICE_PREFIXES) or path.endswith(NO_SERVICE_SUFFIXES) \
                or PurePosixPath(path).name in NO_SERVICE_FILES:
            continue
        crate = next((name for name, folder in ws.folders.items() if path.startswith(folder + "/")), None)
        if crate is None or not ws.folders[crate].startswith("functions/"):
            return list(ws.services)
        selected |= ws.dependents(crate) & set(ws.services)
    return sorted(selected)


def crates_to_test(service: str, ws: Workspace) -> list[str]:
    """The crates `make test SERVICE=` tests: the service's own and the ones it builds on,
    whose code it ships (bookish-shared) or whose checks its tests use (bookish-contracts)."""
    return sorted(ws.dependencies(service))


def tests_to_run(service: str) -> list[str]:
    """The pytest paths, relative to the repository root, `make test SERVICE=` runs."""
    return [f"tests/{name}" for name in sorted(set(SERVICE_TESTS[service]) | set(SHARED_TESTS))]


def changed_paths(base: str) -> list[str]:
    out = subprocess.run(["git", "diff", "--name-only", f"{base}...HEAD"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", help="changed paths, relative to the repository root")
    parser.add_argument("--base", default="origin/main", help="compare HEAD with this revision")
    parser.add_argument("--json", action="store_true", help="print a JSON array")
    args = parser.parse_args()
    services = affected(args.paths or changed_paths(args.base), workspace())
    print(json.dumps(services) if args.json else "\n".join(services))
    return 0


if __name__ == "__main__":
    sys.exit(main())
