#!/usr/bin/env python3
"""Fail on a breaking change to the public API that does not bump its major version.

Compares infra/openapi.yaml with the same file at --base (default HEAD~1, the previous
commit) using optic's breaking-change rules (npm `@useoptic/optic`, installed by `make lint`
into infra/lint/node_modules; it runs offline). A breaking change is allowed only when
`info.version`'s major number grows: clients pin a major version, so shipping one without it
breaks them in production instead of in this check.

  infra/api_compat.py [--base REV]

Two workarounds, both for optic 1.0.9:
- infra/lint/package.json pins ajv 8.17.1 for every dependant: npm otherwise gives
  spectral-core ajv 8.20 while ajv-errors shares 8.17.1, and optic dies compiling a schema.
- optic's OpenAPI 3.1 schema rejects the top-level `jsonSchemaDialect` field, which changes
  nothing optic compares: it is dropped from both copies before the diff.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC = "infra/openapi.yaml"
OPTIC = ROOT / "infra" / "lint" / "node_modules" / ".bin" / "optic"


def major(spec: dict) -> int:
    return int(str(spec["info"]["version"]).split(".")[0])


def breaking_changes(base: str, head: str) -> str | None:
    """optic's report when `head` breaks clients of `base`, else None."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, text in (("base.yaml", base), ("head.yaml", head)):
            spec = yaml.safe_load(text)
            spec.pop("jsonSchemaDialect", None)
            path = Path(tmp) / name
            path.write_text(yaml.safe_dump(spec, sort_keys=False))
            paths.append(str(path))
        # In the temporary folder: under CI=true optic writes ci-run-details.json where it runs.
        run = subprocess.run([str(OPTIC), "diff", *paths, "--check"], capture_output=True, text=True, cwd=tmp,
                             env={**os.environ, "OPTIC_TELEMETRY_LEVEL": "off"}, timeout=300)
    report = run.stdout + run.stderr
    if run.returncode == 0:
        return None
    if "This is a breaking change" not in report:
        raise RuntimeError(f"optic failed without naming a breaking change:\n{report}")
    return "\n".join(line for line in report.splitlines() if "breaking change" in line or line.startswith("x "))


def check(base: str, head: str) -> str | None:
    """Why `head` may not ship after `base`, or None when it may."""
    report = breaking_changes(base, head)
    if report is None:
        return None
    old, new = major(yaml.safe_load(base)), major(yaml.safe_load(head))
    if new > old:
        return None
    return (f"{SPEC} breaks its clients but keeps major version {new} "
            f"(bump info.version to {old + 1}.0.0, or make the change compatible):\n{report}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="HEAD~1", help="the revision whose spec clients rely on")
    args = parser.parse_args()
    shown = subprocess.run(["git", "show", f"{args.base}:{SPEC}"], cwd=ROOT, capture_output=True, text=True)
    if shown.returncode != 0:
        print(f"api_compat: no {SPEC} at {args.base}: nothing to compare with")
        return 0
    problem = check(shown.stdout, (ROOT / SPEC).read_text())
    if problem:
        print(problem, file=sys.stderr)
        return 1
    print(f"api_compat: {SPEC} is compatible with {args.base} (or bumps its major version)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
