"""BENCHMARKS.md carries no number of its own: every digit it prints comes from the results.

The report is rendered from results whose every value is *traced*: numbers and strings
that mark themselves when formatted, and whose arithmetic keeps the mark (a ratio of two
traced medians is traced). What is left once the marked text is cut out is the report's
template, and a digit there is a number typed into the prose. The results come from a
synthetic run built here and, where they exist, from the real ones
(.local/bench/results.json, infra/bench/last-run.json). Pure: no stack, no binaries.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "infra"), str(REPO / "infra" / "bench")]

import bench  # noqa: E402
import init_options  # noqa: E402
import report  # noqa: E402

OPEN, CLOSE = "\ue000", "\ue001"  # private-use characters around each traced value as printed
TRACED_TEXT = re.compile(f"{OPEN}[^{CLOSE}]*{CLOSE}")
# Digits in the template that are names, not numbers.
NAMES = re.compile(r"\bboto3\b|/v1/|\bp\d\d\b|\barm64\b")  # a package; the API's version in routes; percentiles by name; an architecture


def mark(text: str) -> str:
    return f"{OPEN}{text}{CLOSE}"


class TracedFloat(float):
    def __format__(self, spec: str) -> str:
        return mark(format(float(self), spec))  # as a plain float: '' calls str()

    def __str__(self) -> str:
        return mark(float.__repr__(self))


class TracedInt(int):
    def __format__(self, spec: str) -> str:
        return mark(format(int(self), spec))

    def __str__(self) -> str:
        return mark(int.__repr__(self))


class TracedStr(str):
    def __format__(self, spec: str) -> str:
        return mark(format(str.__str__(self), spec))

    def __str__(self) -> str:
        return mark(str.__str__(self))

    def __add__(self, other: str) -> str:
        return f"{self}{other}"

    def __radd__(self, other: str) -> str:
        return f"{other}{self}"


def traced(value):
    """`value` with every number and string in it traced (dict keys too)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return TracedInt(value)
    if isinstance(value, float):
        return TracedFloat(value)
    if isinstance(value, str):
        return TracedStr(value)
    if isinstance(value, (list, tuple)):
        return type(value)(traced(v) for v in value)
    if isinstance(value, dict):
        return {traced(k): traced(v) for k, v in value.items()}
    return value


def _keeps_trace(base: type, name: str):
    method = getattr(base, name)

    def traced_method(self, *args):
        result = method(self, *args)
        return result if result is NotImplemented else traced(result)

    return traced_method


# Arithmetic on a traced number, and slicing or splitting a traced string, stays traced.
for _cls, _base, _names in (
    (TracedFloat, float, "add radd sub rsub mul rmul truediv rtruediv floordiv rfloordiv mod rmod pow rpow "
                         "divmod rdivmod neg pos abs round trunc floor ceil"),
    (TracedInt, int, "add radd sub rsub mul rmul truediv rtruediv floordiv rfloordiv mod rmod pow rpow "
                     "divmod rdivmod neg pos abs round trunc floor ceil"),
):
    for _name in _names.split():
        setattr(_cls, f"__{_name}__", _keeps_trace(_base, f"__{_name}__"))
for _name in ("__getitem__", "split", "rsplit", "partition", "rpartition", "splitlines", "strip", "lstrip", "rstrip",
              "replace", "upper", "lower", "title", "capitalize", "removeprefix", "removesuffix", "zfill", "ljust",
              "rjust", "center"):
    setattr(TracedStr, _name, _keeps_trace(str, _name))


def untraced_numbers(text: str) -> list[str]:
    """Each digit of the template (the text minus the traced values), in its context."""
    template = NAMES.sub("", TRACED_TEXT.sub("", text))
    return [template[max(0, i - 50):i + 30].replace("\n", " ") for i, ch in enumerate(template) if ch.isdigit()]


# --------------------------------------------------------------------------- results

BINARIES = ["cart", "catalog-admin", "catalog-read", "inventory-api", "inventory-events", "notification-events",
            "order-api", "order-publisher", "order-stock-events"]


def synthetic_results() -> dict:
    """A whole run's results, every phase present, in the shapes bench.py saves."""
    rng = random.Random(14)

    def summary(centre: float) -> dict:
        samples = sorted(centre * rng.uniform(0.8, 1.3) for _ in range(21))
        return {"n": len(samples), "median": samples[10], "p10": samples[2], "p90": samples[18], "p99": samples[20],
                "min": samples[0], "max": samples[20]}

    def stamp(day: int, run: int, dirty: bool = False) -> dict:
        return {"measured_at": f"2031-07-{day:02d}T08:{day:02d}:17+00:00", "commit": f"{rng.getrandbits(160):040x}",
                "run_started_at": f"2031-07-{run:02d}T07:59:03+00:00", **({"dirty": True} if dirty else {})}

    rust = BINARIES + [bench.FLOOR, bench.HARNESS]
    subjects = rust + ["node", "python"]
    init = {**{b: rng.uniform(3.5, 4.6) for b in BINARIES}, bench.FLOOR: 2.6, bench.HARNESS: 1.3, "node": 163.0,
            "python": 311.0}
    cold = {name: {"init_ms": summary(init[name]), "first_response_ms": summary(init[name] * 3)} for name in subjects}
    for name in rust:
        cold[name]["binary_bytes"] = rng.randrange(900_000, 7_800_000)
    results = {
        "targets": {**json.loads(bench.TARGETS.read_text()), **stamp(23, 23)},
        "machine": {"cpu": "Imaginary CPU 9754", "cores": 3, "memory_gib": 7.8, "arch": "x86_64",
                    "kernel": "6.1.0-18-amd64", "system_root_files": 291, "system_root_bundle_certificates": 146,
                    "rustc": "rustc 1.93.1 (01f6ddf75 2031-02-11)", "node": "v22.4.1", "python": "3.12.3",
                    "date": "2031-07-21 09:12 UTC", **stamp(21, 21)},
        "setup": {"lambda_arch": "arm64", "express": "5.1.0", "embedded_roots": 6,
                  "release_profile": {"lto": True, "codegen-units": 1, "strip": True, "opt-level": "s"}, **stamp(21, 21)},
        "binaries": BINARIES,
        "build": {"seconds": 1739, **stamp(21, 21)},
        "size": {"arch": "arm64", "sizes": {name: {"zip": rng.randrange(400_000, 2_900_000),
                                                   "binary": rng.randrange(900_000, 6_100_000), "arch": "arm64"}
                                            for name in BINARIES + [bench.FLOOR]}, **stamp(21, 21)},
        "cold": {**cold, **stamp(22, 22, dirty=True)},
        "memory": {**{name: {"invocations": 1000, "duration_ms": summary(rng.uniform(0.3, 90)),
                             "peak_rss_kib": rng.randrange(3_000, 99_000)} for name in subjects}, **stamp(22, 22)},
        "overhead": {"cases": [{"case": f"{name} GET /v1/things?limit={rng.randrange(2, 50)}{suffix}",
                                "function": name, "over": over, "clock": "thread CPU", "iterations": 20000,
                                "p50_us": rng.uniform(10, 60), "p99_us": rng.uniform(15, 90),
                                "mean_us": rng.uniform(10, 60),
                                "wall": {"p50_us": rng.uniform(10, 60), "p99_us": rng.uniform(15, 900)}}
                               for over, suffix in (("in-memory ports", ""), ("AWS SDK, stub DynamoDB", " [sdk+stub]"))
                               for name in BINARIES], **stamp(21, 21)},
        "init_options": {"floor": {"init_ms": summary(2.6), "first_response_ms": summary(3.1)}, "options": [
            {"name": name, "what": f"what {name} changes", "verdict": f"taken: {name}", "how": "the environment",
             "binaries": {b: {"committed": {"init_ms": summary(4.0), "first_response_ms": summary(9.0)},
                              "option": {"init_ms": summary(3.7), "first_response_ms": summary(9.4)}}
                          for b in BINARIES[:2]}}
            for name in ("config-per-client", report.LAZY_CLIENTS, "traces-off")], **stamp(22, 22)},
        "load": {**{f"{who} GET /v1/books/{{id}}": {
            "url": "http://127.0.0.1:5052/v1/books/abc", "seconds": 30, "threads": 2, "connections": 8,
            "requests": rng.randrange(600, 270_000), "rps": rng.uniform(20, 9000), "errors": 0,
            "latency_ms": {"p50": rng.uniform(0.5, 300), "p75": 1.0, "p90": 2.0, "p99": rng.uniform(5, 480)}}
            for who in ("bookish", "express")}, **stamp(22, 22)},
    }
    overhead = results["overhead"]
    for arm in ("traces_off", "metrics_off"):  # the same cases, each a little cheaper
        overhead[arm] = [{**case, "p50_us": case["p50_us"] * rng.uniform(0.8, 1.0)} for case in overhead["cases"]]
    return results


def real_results() -> dict[str, dict]:
    """The results of real runs, where this checkout has them."""
    found = {}
    if (bench.RESULTS).exists():
        found["results.json"] = json.loads(bench.RESULTS.read_text())
    if bench.LAST_RUN.exists():
        found["last-run.json"] = json.loads(bench.LAST_RUN.read_text())["results"]
    return found


SOURCES = {"synthetic": {}, **real_results()}


@pytest.fixture(params=sorted(SOURCES))
def results(request) -> dict:
    """Synthetic results overlaid with a real run's (which may hold only some phases)."""
    return {**synthetic_results(), **SOURCES[request.param]}


# --------------------------------------------------------------------------- tests

def test_every_number_in_the_report_comes_from_the_results(results):
    rendered = report.render(traced(results))
    assert TRACED_TEXT.search(rendered), "nothing traced: the check would pass vacuously"
    assert untraced_numbers(rendered) == []


def test_tracing_does_not_change_the_report(results):
    assert report.render(traced(results)).replace(OPEN, "").replace(CLOSE, "") == report.render(results)


def test_a_number_typed_into_the_prose_is_caught(results, monkeypatch):
    monkeypatch.setattr(report, "SIZE_CHOICES", report.SIZE_CHOICES + " A clean build takes about 40 minutes.")
    assert [context for context in untraced_numbers(report.render(traced(results))) if "about 4" in context]


def test_every_section_of_a_whole_run_is_rendered():
    rendered = report.render(synthetic_results())
    sections = re.findall(r"^## (.+)\n\n(.*)$", rendered, re.M)
    measured_here = {"Cold start", "Init options", "Warm overhead", "Memory", "Artifact size", "Local load"}
    assert {title for title, first_line in sections if first_line.startswith("_Measured 2031")} == measured_here
    assert "different runs of `make bench`" in rendered
    assert "with uncommitted changes" in rendered


def test_invocations_cut_short_in_the_memory_phase_are_told():
    results = synthetic_results()
    results["memory"]["inventory-events"]["failed"] = ["inventory-events reported batch item failures: [...]"]
    assert "`inventory-events`: inventory-events reported batch item failures: [...]" in report.render(results)
    assert untraced_numbers(report.render(traced(results))) == []


def test_what_observability_and_each_init_option_cost_is_shown():
    rendered = report.render(synthetic_results())
    assert "| handler and route | all on | traces off | traces cost | metrics off | metrics cost |" in rendered
    assert "| `traces-off` | `cart` |" in rendered


def test_what_fewer_sdk_crates_could_save_is_bounded_by_clients_on_first_use():
    results = synthetic_results()
    phase = results["init_options"]
    lazy = next(o for o in phase["options"] if o["name"] == report.LAZY_CLIENTS)
    binary, measured = next(iter(lazy["binaries"].items()))
    left = measured["option"]["init_ms"]["median"] - phase["floor"]["init_ms"]["median"]
    assert f"init is still over the floor by `{binary}` {left:+.2f} ms" in report.render(results)


def test_the_init_ratio_is_judged_net_of_the_harness():
    results = synthetic_results()
    cold = results["cold"]
    floor, harness = cold[bench.FLOOR]["init_ms"]["median"], cold[bench.HARNESS]["init_ms"]["median"]
    worst = max(results["binaries"], key=lambda name: cold[name]["init_ms"]["median"])
    net = (cold[worst]["init_ms"]["median"] - harness) / (floor - harness)
    assert f"worst {net:.2f}× net of the harness" in report.render(results)


def test_last_run_holds_the_rendered_results_and_each_phase_stamp():
    results = synthetic_results()
    summary = json.loads(json.dumps(report.last_run(results)))
    assert summary["results"] == results
    assert summary["phases"]["cold"] == {k: results["cold"][k] for k in report.STAMP if k in results["cold"]}
    assert "binaries" not in summary["phases"]  # a list, not a phase


def test_the_committed_benchmarks_are_the_last_run_rendered():
    """Once a run has committed last-run.json, BENCHMARKS.md is exactly what it renders to."""
    if not bench.LAST_RUN.exists():
        return  # no run has been committed with its results yet
    results = json.loads(bench.LAST_RUN.read_text())["results"]
    assert (REPO / "BENCHMARKS.md").read_text() == report.render(results)


def test_the_architecture_is_read_from_the_elf_header():
    def header(machine: int, byteorder: str) -> bytes:
        return b"\x7fELF" + bytes([2, 1 if byteorder == "little" else 2]) + bytes(12) + machine.to_bytes(2, byteorder)

    assert bench.elf_arch(header(0xB7, "little")) == "arm64"
    assert bench.elf_arch(header(0x3E, "little")) == "x86_64"
    assert bench.elf_arch(header(0x3E, "big")) == "x86_64"
    assert bench.elf_arch(header(0xF3, "little")) == "ELF machine 0xf3"
    with open(sys.executable, "rb") as python:  # a real executable of this machine
        assert bench.elf_arch(python.read(20)) == bench.platform.machine().replace("aarch64", "arm64")
    with pytest.raises(SystemExit):
        bench.elf_arch(b"PK\x03\x04" + bytes(16))


def test_every_init_option_patch_applies_to_the_tree():
    """make bench builds each patched option from HEAD: a patch the code has moved away from
    would stop the run there."""
    patched = [option for option in init_options.OPTIONS if option.patch]
    assert patched
    for option in patched:
        patch = init_options.PATCHES / f"{option.name}.patch"
        subprocess.run(["git", "apply", "--check", str(patch)], cwd=REPO, check=True)
