"""Cold starts under the CPU share Lambda gives a 128 MB function.

Lambda allocates CPU in proportion to memory: a function with `MB_PER_VCPU` MB has the
equivalent of one vCPU, so one with 128 MB gets about 7% of one. A cgroup CPU quota
(`cpu.max` in cgroup v2, `cpu.cfs_quota_us` / `cpu.cfs_period_us` in v1) caps a process
tree the same way: so much CPU time per period, then nothing until the next. Each
subject is exec'd into such a cgroup (a shell writes its own pid into `cgroup.procs`,
then execs the subject, which inherits the cgroup), and, in the same shuffled rounds,
into a sibling cgroup without a quota: the same wrapper, so the two columns differ only
by the quota.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Callable

import runtime_api

CGROUP_ROOT = Path("/sys/fs/cgroup")
# "at 1,769 MB, a function has the equivalent of one vCPU" (Lambda developer guide, "Configuring
# Lambda function memory": https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html)
MB_PER_VCPU = 1769
SOURCE = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html"
PERIOD_US = 100_000  # the kernel's default CFS period
NAME = "bookish-bench-cpu-share"


class Refused(Exception):
    """The machine does not let us make a CPU-limited cgroup; the message says what it said."""


class Cgroup:
    """A cgroup of the CPU controller under our own, with an optional quota; removed on exit."""

    def __init__(self, name: str, quota_us: int | None, period_us: int = PERIOD_US,
                 root: Path = CGROUP_ROOT, own: str | None = None) -> None:
        self.version, self.path = locate(root, own)
        self.path = self.path / name
        try:
            if self.version == 2:
                enable_cpu(self.path.parent)
            self.path.mkdir(exist_ok=True)
            if self.version == 2:
                (self.path / "cpu.max").write_text(f"{quota_us or 'max'} {period_us}")
            else:
                (self.path / "cpu.cfs_period_us").write_text(str(period_us))
                (self.path / "cpu.cfs_quota_us").write_text(str(quota_us or -1))
        except OSError as err:
            self.remove()
            raise Refused(f"{err.filename or self.path}: {err.strerror}") from err
        self.limit = read_limit(self.path, self.version)

    def wrap(self, argv: list[str]) -> list[str]:
        """`argv`, exec'd from inside this cgroup."""
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs"), *argv]

    def remove(self) -> None:
        try:
            self.path.rmdir()
        except FileNotFoundError:
            pass

    def __enter__(self) -> Cgroup:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def locate(root: Path, own: str | None = None) -> tuple[int, Path]:
    """(cgroup version, the directory of our own cgroup in the CPU controller's hierarchy)."""
    lines = (own if own is not None else Path("/proc/self/cgroup").read_text()).splitlines()
    if (root / "cgroup.controllers").exists():  # the unified hierarchy: v2 only
        path = next((line.split(":", 2)[2] for line in lines if line.startswith("0::")), None)
        if path is None:
            raise Refused(f"no cgroup v2 entry in /proc/self/cgroup: {' '.join(lines)}")
        return 2, root / path.lstrip("/")
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            mount = next((root / name for name in ("cpu", "cpu,cpuacct") if (root / name / "cgroup.procs").exists()),
                         None)
            if mount is None:
                raise Refused(f"no cpu controller mounted under {root}")
            return 1, mount / path.lstrip("/")
    raise Refused(f"no cpu controller in /proc/self/cgroup: {' '.join(lines)}")


def enable_cpu(parent: Path) -> None:
    """cgroup v2 hands a controller to children only when the parent's subtree_control lists it."""
    control = parent / "cgroup.subtree_control"
    if "cpu" not in control.read_text().split():
        control.write_text("+cpu")


def read_limit(path: Path, version: int) -> str:
    """The quota as the kernel reports it back, in cpu.max's form ("<quota> <period>")."""
    if version == 2:
        return (path / "cpu.max").read_text().strip()
    quota = int((path / "cpu.cfs_quota_us").read_text())
    return f"{quota if quota >= 0 else 'max'} {(path / 'cpu.cfs_period_us').read_text().strip()}"


def quota_us(memory_mb: int, period_us: int = PERIOD_US) -> int:
    return round(period_us * memory_mb / MB_PER_VCPU)


def phase(subjects, rounds: int, summarize: Callable[[list[float]], dict], memory_mb: int = 128,
          log: Callable[[str], None] = print) -> dict:
    """phase_cold's subjects, each exec'd in the quota's cgroup and in one without, in shuffled
    rounds; or `{"skipped": why}` when the machine will not make the cgroups."""
    quota = quota_us(memory_mb)
    try:
        throttled = Cgroup(NAME, quota)
    except Refused as err:
        return {"skipped": str(err)}
    try:
        unlimited = Cgroup(f"{NAME}-free", None)
    except Refused as err:
        throttled.remove()
        return {"skipped": str(err)}
    arms = {"throttled": throttled, "unthrottled": unlimited}
    log(f"cold starts under cpu quota {throttled.limit} (cgroup v{throttled.version} {throttled.path}): "
        f"{rounds} rounds of {len(subjects.names)} subjects, throttled and not (plus one untimed round)")
    samples = {arm: {n: {"init": [], "first": []} for n in subjects.names} for arm in arms}
    rng = random.Random(2)
    with throttled, unlimited:
        for round_no in range(rounds + 1):
            pairs = [(name, arm) for name in subjects.names for arm in arms]
            rng.shuffle(pairs)
            for name, arm in pairs:
                argv, cwd = subjects.start_args(name)
                result = runtime_api.cold_start(name, arms[arm].wrap(argv), subjects.env_for(name), cwd,
                                                subjects.logs / f"{name}.log", subjects.event(name))
                subjects.saw(name, result.response)
                if round_no:  # the first round only warms the page cache
                    samples[arm][name]["init"].append(result.init_ms)
                    samples[arm][name]["first"].append(result.first_response_ms)
            print(f"    round {round_no}/{rounds}", flush=True)

    def summaries(arm: str) -> dict:
        return {n: {"init_ms": summarize(s["init"]), "first_response_ms": summarize(s["first"])}
                for n, s in samples[arm].items()}

    limited, free = summaries("throttled"), summaries("unthrottled")
    quota_text, period_text = throttled.limit.split()
    return {"cpu_max": throttled.limit, "cpu_share": int(quota_text) / int(period_text),
            "cgroup": f"v{throttled.version}", "memory_mb": memory_mb, "mb_per_vcpu": MB_PER_VCPU, "source": SOURCE,
            "rounds": rounds, "subjects": limited, "unthrottled": free,
            "init_x_unthrottled": {n: limited[n]["init_ms"]["median"] / free[n]["init_ms"]["median"] for n in limited}}


def ms(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def section(results: dict) -> str:
    """The throttled cold starts for BENCHMARKS.md, every number from results["cold_throttled"]."""
    throttled = results.get("cold_throttled")
    if not throttled:
        return "_Not measured in this run._"
    if "skipped" in throttled:
        return f"_Not measured: the machine would not make a CPU-limited cgroup ({throttled['skipped']})._"
    quota, period = throttled["cpu_max"].split()
    rows = []
    for name, limited in throttled["subjects"].items():
        free = throttled["unthrottled"][name]
        rows.append(f"| `{name}` | {ms(limited['init_ms']['median'])} | {ms(free['init_ms']['median'])} | "
                    f"{throttled['init_x_unthrottled'][name]:.1f}× | "
                    f"{ms(limited['first_response_ms']['median'])} | {ms(free['first_response_ms']['median'])} |")
    return "\n\n".join([
        f"Lambda gives a function CPU in proportion to its memory, one vCPU at {throttled['mb_per_vcpu']} MB "
        f"([Lambda developer guide]({throttled['source']})), so a {throttled['memory_mb']} MB function gets "
        f"about {throttled['cpu_share']:.1%} of one. Each subject was exec'd into a cgroup "
        f"({throttled['cgroup']}) whose CPU quota is {quota} µs per {period} µs period, and, in the same "
        f"{throttled['rounds']} shuffled rounds, into one without a quota (the same exec wrapper, so the "
        "columns differ by the quota alone). Milliseconds, medians. The quota caps CPU time, not wall time: "
        "waiting on moto costs the throttled process nothing, and work that needs less CPU than one "
        "period's quota runs unslowed; past the quota, the process waits out the rest of the period. How "
        "Lambda slices its share in time is not documented, so a short init may fare worse there.",
        "| subject | init, quota | init, no quota | × | first response, quota | first response, no quota |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(rows),
    ])
