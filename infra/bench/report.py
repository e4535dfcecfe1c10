"""BENCHMARKS.md from the results infra/bench/bench.py saved (.local/bench/results.json).

Every number in the document comes from the results: measured, or read from the machine,
the toolchain and the tree by bench.py and stored there. The prose around the numbers is
here and carries none of its own (tests/infra/test_bench_report.py renders the document
from traced results and fails on any digit the results did not supply), so a claim this
run did not measure is not quoted with a number.
"""

from __future__ import annotations

import cost
import e2e

FLOOR = "hello-world"
# The init option whose result bounds the one not built (fewer SDK crates).
LAZY_CLIENTS = "clients-on-first-use"
HARNESS = "do-nothing"
COMPARED = ["node", "python"]
MB = 1_000_000
NOT_MEASURED = "_Not measured in this run._"
# What the warm-overhead cases ran over (infra/bench/src/runner.rs, `Over::label`).
OVER_MEMORY = "in-memory ports"
OVER_TEXT = {
    OVER_MEMORY: "Each handler over the in-memory adapters its crate's tests use: no I/O, no SDK.",
    "AWS SDK, stub DynamoDB": (
        "The same handlers over their DynamoDB store and a real `aws_sdk_dynamodb` client, static credentials "
        "and region, whose endpoint is a stub on loopback (`infra/bench/src/stub_dynamodb.rs`). The stub answers "
        "canned DynamoDB replies built from the items the in-memory cases hold (a unit test checks that both "
        "kinds of case answer the same bodies), on threads of its own: the SDK's request building, "
        "serialization, signing, HTTP exchange and response parsing are on the measured thread, DynamoDB's "
        "latency and the stub's work are not. Wall time here includes the loopback round trip and the stub."
    ),
}
# What bench.py's save() adds to every phase's dict: not a measurement.
STAMP = {"measured_at", "commit", "dirty", "run_started_at"}


def ms(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def spread(s: dict) -> str:
    """Median with the 10th-90th percentile range."""
    return f"{ms(s['median'])} ({ms(s['p10'])}–{ms(s['p90'])})"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def measured(phase: dict) -> dict:
    """A phase's results without its stamp."""
    return {k: v for k, v in phase.items() if k not in STAMP}


def provenance(phase: dict) -> str:
    """When and at which commit a phase was measured, as a line above its table."""
    if "measured_at" not in phase:
        return "_Measured before phases were stamped: when and at which commit is not recorded._\n\n"
    dirty = ", with uncommitted changes" if phase.get("dirty") else ""
    return f"_Measured {phase['measured_at']} at commit `{phase['commit'][:12]}`{dirty}._\n\n"


def last_run(results: dict) -> dict:
    """infra/bench/last-run.json: the results BENCHMARKS.md was rendered from, whole, and each
    phase's stamp up front, so that a reader can check every number the document prints."""
    phases = {key: {k: v for k, v in value.items() if k in STAMP} for key, value in results.items()
              if isinstance(value, dict) and "measured_at" in value}
    return {"rendered_by": "infra/bench/report.py", "phases": phases, "results": results}


class Report:
    def __init__(self, results: dict) -> None:
        self.r = results
        self.t = results["targets"]
        self.m = results["machine"]
        self.setup = results.get("setup", {})
        self.binaries: list[str] = results.get("binaries", [])
        self.summary: list[list[str]] = []  # measure, target, result, verdict
        self.missed: list[str] = []

    def target(self, measure: str, target: str, result: str, ok: bool, miss_note: str, by: str = "") -> None:
        self.summary.append([measure, target, result, verdict(ok)])
        if not ok:
            self.missed.append(f"- **{measure}**: {result} against {target}{by}. {miss_note}")

    # ---------------------------------------------------------------- cold start
    def cold(self) -> str:
        cold = self.r.get("cold")
        if not cold:
            return NOT_MEASURED
        floor = cold[FLOOR]["init_ms"]["median"]
        harness = cold[HARNESS]["init_ms"]["median"] if HARNESS in cold else None
        net_of_harness = harness is not None and floor > harness
        node = cold.get("node")
        node_label = f"Node.js {self.m['node']}"
        rows = []
        inits = {}  # binary -> (ratio judged, gross ratio, ms over the floor)
        for name in self.binaries + [FLOOR, HARNESS] + COMPARED:
            if name not in cold:
                continue
            c = cold[name]
            init = c["init_ms"]["median"]
            gross = init / floor
            net = (init - harness) / (floor - harness) if net_of_harness else None
            vs_node = node["init_ms"]["median"] / init if node else None
            if name in self.binaries:
                inits[name] = (net if net_of_harness else gross, gross, init - floor, vs_node)
            rows.append([f"`{name}`", spread(c["init_ms"]), spread(c["first_response_ms"]), f"{init - floor:+.2f}",
                         f"{gross:.2f}×", f"{net:.2f}×" if net is not None else "–",
                         f"{vs_node:.1f}×" if vs_node else "–"])
        limit = self.t["init_x_floor"]
        if inits:
            worst = max(inits, key=lambda name: inits[name][0])
            judged, gross, over, _ = inits[worst]
            allowed_over = (limit - 1) * (floor - harness if net_of_harness else floor)
            result = (f"worst {judged:.2f}× net of the harness ({gross:.2f}× gross, {over:+.2f} ms) (`{worst}`)"
                      if net_of_harness else f"worst {gross:.2f}× (`{worst}`)")
            self.target("Cold start vs hello-world floor (init)", f"≤ {limit}× floor", result, judged <= limit,
                        self.init_miss(cold, inits, worst),
                        by=f", {over - allowed_over:.2f} ms more init than the target allows")
            if node:
                slowest = min(inits, key=lambda name: inits[name][3])
                self.target(f"Cold start vs {node_label} (init)", f"≥ {self.t['x_faster_than_node']}× faster",
                            f"worst {inits[slowest][3]:.1f}× (`{slowest}`)",
                            inits[slowest][3] >= self.t["x_faster_than_node"],
                            "Node.js's init is its runtime and the SDK's module loading; see the table.")
        if node and "catalog-read" in cold:
            same = node["first_response_ms"]["median"] / cold["catalog-read"]["first_response_ms"]["median"]
            self.target(f"Same handler vs {node_label} (first response)", f"≥ {self.t['x_faster_than_node']}× faster",
                        f"{same:.1f}× (`catalog-read`)", same >= self.t["x_faster_than_node"],
                        "Both pay the same GetItem round-trip to moto (a Python server), which is a floor "
                        "under both first responses that real DynamoDB would lower.")
        harness_note = (
            f" `{HARNESS}` speaks the Runtime API and nothing else (std only, `infra/bench/src/bin/{HARNESS}.rs`): "
            "its init is what exec and the harness cost every subject, so **net of the harness** is a ratio "
            f"with it subtracted from both sides, the ratio the target is judged on."
            if net_of_harness else "")
        return (
            provenance(cold)
            + f"Each subject exec'd fresh {cold[FLOOR]['init_ms']['n']} times in shuffled rounds (an untimed round "
            "first warms the page cache), against the Runtime API harness `infra/bench/runtime_api.py` on "
            "loopback, each with its AWS SDK clients pointed at the bench stack's moto. **Init** is exec to the "
            "first request for an event (the Runtime API's `next`); **first response** is exec to the first "
            "result posted (init plus one real request: store round-trips included). Milliseconds, median "
            f"(p10–p90); **over floor** is the init median's difference to `{FLOOR}`'s. `node` and `python` are "
            f"the catalog's `GET /v1/books/{{id}}` written for {node_label} (`@aws-sdk/client-dynamodb` under "
            f"`aws-lambda-ric`) and Python {self.m['python']} (`boto3` under `awslambdaric`); `{FLOOR}` is a bare "
            "`lambda_runtime` function, the floor." + harness_note + "\n\n"
            + table(["subject", "init ms", "first response ms", "over floor ms", "init × floor",
                     "net of harness × floor", "Node init ÷ this"], rows)
            + "\n\nThe event each function gets: " + ", ".join(f"`{k}`: {v}" for k, v in EVENTS.items()) + "."
            + "\n\n" + self.cold_choices()
        )

    def init_miss(self, cold: dict, inits: dict, worst: str) -> str:
        overs = [over for _, _, over, _ in inits.values()]
        sizes = ""
        if "binary_bytes" in cold[worst] and "binary_bytes" in cold[FLOOR]:
            sizes = (f" ({cold[worst]['binary_bytes'] / MB:.1f} MB for `{worst}` against the floor's "
                     f"{cold[FLOOR]['binary_bytes'] / MB:.1f} MB, native builds)")
        return (
            f"What is left beyond the floor ({min(overs):.2f} to {max(overs):.2f} ms in this run) is the AWS SDK's "
            "setup: each client's endpoint resolver (every SDK crate parses its own partition table) and runtime plugins, plus the "
            f"page faults and allocations of a larger binary{sizes}, and the trace and metrics pipelines. "
            "**Init options** below measures each way tried of closing it, and what each would cost. "
            + self.fewer_crates() + "In Lambda the sandbox's own start comes on top for every runtime alike, "
            "which is why the Node.js ratio is the one users feel."
        )

    def fewer_crates(self) -> str:
        """The option not built, bounded by one that was: with every client built on first use, what is
        still over the floor is all that linking fewer SDK crates could take off init."""
        text = ("One more was not built: fewer SDK crates per binary would mean calling those services without "
                "their SDKs, since each crate a function links serves a port it uses")
        phase = self.r.get("init_options") or {}
        lazy = next((o for o in phase.get("options", []) if o["name"] == LAZY_CLIENTS), None)
        if not lazy:
            return text + ". "
        floor = phase["floor"]["init_ms"]["median"]
        left = ", ".join(f"`{binary}` {m['option']['init_ms']['median'] - floor:+.2f} ms"
                         for binary, m in lazy["binaries"].items())
        return (text + f". With every client built on first use (`{LAZY_CLIENTS}`) init is still over the floor "
                f"by {left}: the most that dropping SDK crates could take off, and less, since part of it is the "
                "runtime's, the HTTP layer's and the trace and metrics pipelines'. ")

    def init_options(self) -> str:
        phase = self.r.get("init_options")
        if not phase:
            return NOT_MEASURED
        rows, notes = [], []
        for option in phase["options"]:
            for binary, m in option["binaries"].items():
                committed, variant = m["committed"], m["option"]
                change = variant["init_ms"]["median"] - committed["init_ms"]["median"]
                rows.append([f"`{option['name']}`", f"`{binary}`", spread(committed["init_ms"]),
                             spread(variant["init_ms"]), f"{change:+.2f}",
                             ms(committed["first_response_ms"]["median"]), ms(variant["first_response_ms"]["median"])])
            notes.append(f"- `{option['name']}` ({option['how']}): {option['what']}. {option['verdict'].capitalize()}.")
        floor = phase["floor"]["init_ms"]
        return (
            provenance(phase)
            + "Each option is a patch to the committed code, built with the release profile in a worktree, or a "
            "change to the function's environment; its binary was exec'd beside the committed binary of the same "
            f"name and `{FLOOR}` ({spread(floor)} ms init here), {floor['n']} times each in shuffled rounds, with "
            "the cold-start table's events (`infra/bench/init_options.py`). Milliseconds, median (p10–p90); "
            "**change** is the option's init median minus the committed binary's: negative is faster.\n\n"
            + table(["option", "binary", "committed init ms", "with the option init ms", "change ms",
                     "committed first response ms", "with the option first response ms"], rows)
            + "\n\n" + "\n".join(notes)
        )

    def cold_choices(self) -> str:
        if "embedded_roots" not in self.setup:
            return ""
        m = self.m
        return (
            "What cold-start tuning bought: the SDK's default HTTPS client reads the system's whole root store "
            f"at every cold start (on this machine {m['system_root_files']} files under `/etc/ssl/certs`, its "
            f"bundle {m['system_root_bundle_certificates']} certificates). `bookish_shared::aws::config()` gives "
            f"the SDK a client that trusts only the {self.setup['embedded_roots']} roots AWS endpoints chain to, "
            "embedded in the binary. The init before the change was measured by hand when it was made; this run "
            "does not repeat it, so it is not quoted here."
        )

    # ---------------------------------------------------------------- warm overhead
    def overhead(self) -> str:
        phase = self.r.get("overhead")
        if not phase:
            return NOT_MEASURED
        cases = phase["cases"]
        # Results from before the SDK cases name neither what the handler ran over nor wall time.
        groups: dict[str, list[dict]] = {}
        for c in cases:
            groups.setdefault(c.get("over", OVER_MEMORY), []).append(c)
        worst = max(cases, key=lambda c: c["p99_us"])
        limit = self.t["overhead_p99_ms"]
        self.target("Warm overhead per request (p99, CPU time)", f"≤ {limit} ms",
                    f"worst {worst['p99_us'] / 1000:.3f} ms (`{worst['case']}`)", worst["p99_us"] / 1000 <= limit,
                    "The handler path is CPU-bound JSON work, and through the SDK request building, signing and "
                    "parsing too; profile the named case (e.g. with "
                    "`valgrind --tool=callgrind target/release/warm-overhead --case ...`).")
        header = ["handler and route", "CPU p50 µs", "CPU p99 µs", "CPU mean µs", "wall p50 µs", "wall p99 µs"]
        tables = []
        for over, group in groups.items():
            rows = [[f"`{c['case']}`", f"{c['p50_us']:.1f}", f"{c['p99_us']:.1f}", f"{c['mean_us']:.1f}",
                     f"{c['wall']['p50_us']:.1f}" if "wall" in c else "–",
                     f"{c['wall']['p99_us']:.1f}" if "wall" in c else "–"] for c in group]
            tables.append(f"**Over {over}.** {OVER_TEXT.get(over, '')}\n\n" + table(header, rows))
        return (
            provenance(phase)
            + "CPU time per request of the thread that runs the invocation "
            "(`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`): the runtime is single-threaded, as in every function, so "
            "every task of the invocation runs on that thread, and time spent waiting for I/O is not counted. "
            "Each handler is driven through the real `lambda_http` conversion (event JSON in, API Gateway response "
            f"JSON out) and the JSON request log line, {cases[0]['iterations']:,} iterations after a warm-up "
            "(`target/release/warm-overhead`, source in `infra/bench/src/`). The target is judged on CPU time: "
            "the worst p99 of every case below, both tables. Wall time is beside it. Microseconds.\n\n"
            + "\n\n".join(tables) + self.observability_cost(phase)
        )

    def observability_cost(self, phase: dict) -> str:
        """What traces and metrics add per request: the cases again with each turned off."""
        if "traces_off" not in phase or "metrics_off" not in phase:
            return ""
        off = {arm: {c["case"]: c for c in phase[arm]} for arm in ("traces_off", "metrics_off")}
        rows = []
        for c in phase["cases"]:
            if c["case"] not in off["traces_off"] or c["case"] not in off["metrics_off"]:
                continue
            traces_off, metrics_off = off["traces_off"][c["case"]], off["metrics_off"][c["case"]]
            rows.append([f"`{c['case']}`", f"{c['p50_us']:.1f}", f"{traces_off['p50_us']:.1f}",
                         f"{c['p50_us'] - traces_off['p50_us']:+.1f}", f"{metrics_off['p50_us']:.1f}",
                         f"{c['p50_us'] - metrics_off['p50_us']:+.1f}"])
        return (
            "\n\n**What traces and metrics cost per request.** Every case above again, once with traces off (no "
            "X-Ray daemon address: the functions build no trace pipeline) and once with metrics off (a no-op "
            "recorder takes the functions' place), same iterations; CPU p50 in microseconds, and each one's "
            "**cost** as on minus off (within a few microseconds is the noise of separate runs). Their cost at "
            "cold start is the `traces-off` row of **Init options**.\n\n"
            + table(["handler and route", "all on", "traces off", "traces cost", "metrics off", "metrics cost"], rows)
        )

    # ---------------------------------------------------------------- memory
    def memory(self) -> str:
        phase = self.r.get("memory")
        if not phase:
            return NOT_MEASURED
        memory = measured(phase)
        rows = []
        worst = None
        for name in self.binaries + [FLOOR, HARNESS] + COMPARED:
            if name not in memory:
                continue
            m = memory[name]
            mb = m["peak_rss_kib"] * 1024 / MB
            if name in self.binaries and (worst is None or mb > worst[0]):
                worst = (mb, name)
            d = m["duration_ms"]
            rows.append([f"`{name}`", f"{mb:.1f}", ms(d["median"]), ms(d["p99"])])
        invocations = next(iter(memory.values()))["invocations"]
        if worst:
            limit = self.t["peak_rss_mb"]
            self.target(f"Peak RSS after {invocations:,} warm invocations", f"≤ {limit} MB",
                        f"worst {worst[0]:.1f} MB (`{worst[1]}`)", worst[0] <= limit,
                        "Look for buffers kept across invocations (SDK response bodies, caches).")
        return (
            provenance(phase)
            + f"One process per subject: a cold invocation and {invocations:,} warm ones through the harness, "
            "then the process's high-water resident set (`VmHWM` in `/proc/<pid>/status`). The warm duration "
            "is the harness's view of one invocation (event handed over to response posted), store "
            "round-trips to moto included.\n\n"
            + table(["subject", "peak RSS MB", "warm median ms", "warm p99 ms"], rows)
            + self.memory_failures(memory)
        )

    @staticmethod
    def memory_failures(memory: dict) -> str:
        """The invocations a consumer cut short (moto stalling past the deadline), if any."""
        failed = {name: m["failed"] for name, m in memory.items() if isinstance(m, dict) and m.get("failed")}
        if not failed:
            return ""
        return ("\n\nCut short by the deadline (moto stalled past it) and counted in the durations above, "
                "each a warm invocation that reported its batch item as failed: "
                + "; ".join(f"`{name}`: " + "; ".join(f"{failure}" for failure in failures)
                            for name, failures in failed.items()) + ".")

    # ---------------------------------------------------------------- size
    def size(self) -> str:
        size = self.r.get("size")
        if not size or not size["sizes"]:
            return NOT_MEASURED
        rows = []
        worst = None
        for name in self.binaries + [FLOOR]:
            s = size["sizes"].get(name)
            if not s:
                continue
            zip_mb = s["zip"] / MB
            if name in self.binaries and (worst is None or zip_mb > worst[0]):
                worst = (zip_mb, name)
            rows.append([f"`{name}`", f"{zip_mb:.2f}", f"{s['binary'] / MB:.2f}", f"{s['arch']}"])
        if worst:
            limit = self.t["zip_mb"]
            self.target("Artifact size (zip)", f"≤ {limit} MB", f"worst {worst[0]:.2f} MB (`{worst[1]}`)",
                        worst[0] <= limit,
                        "See the release profile below: the SDK clients dominate; drop unused SDK features first.")
        deployed = self.setup.get("lambda_arch")
        note = "" if deployed in (None, size["arch"]) else (
            f"\n\n**These are {size['arch']} zips, and the services' templates deploy {deployed}**: `make build` "
            f"could not add the {deployed} standard library on this machine. Do not deploy them.")
        return (
            provenance(size)
            + "The zips `make build` writes (`cargo lambda build --release --output-format zip`); the "
            "architecture is read from each `bootstrap`'s ELF header. MB are millions of bytes." + note
            + "\n\n" + table(["binary", "zip MB", "bootstrap MB", "architecture"], rows)
            + "\n\n" + self.size_choices()
        )

    def size_choices(self) -> str:
        profile = self.setup.get("release_profile")
        if not profile:
            return ""

        def toml(value) -> str:
            if isinstance(value, bool):
                return "true" if value else "false"
            return f'"{value}"' if isinstance(value, str) else f"{value}"

        rows = [[f"`{key} = {toml(value)}`", PROFILE_WHY.get(key, "")] for key, value in profile.items()]
        return (
            "The release profile these were built with (`[profile.release]` in `Cargo.toml`, read by this run), "
            "and why each setting is there. What each setting saved was measured by hand when it was chosen; "
            "this run measures only the sizes above.\n\n" + table(["setting", "why"], rows) + "\n\n" + SIZE_CHOICES
        )

    # ---------------------------------------------------------------- cost and end to end (their own modules)
    def cost(self) -> str:
        counted = self.r.get("cost_counted")
        if not counted or not hasattr(cost, "section"):
            return NOT_MEASURED
        return provenance(counted) + cost.section(self.r)

    def end_to_end(self) -> str:
        if not any(key in self.r for key in ("e2e", "cold_throttled")):
            return NOT_MEASURED
        return e2e.section(self.r, stamp=provenance)

    # ---------------------------------------------------------------- load
    def load(self) -> str:
        phase = self.r.get("load")
        if not phase:
            return NOT_MEASURED
        load = measured(phase)
        rows = []
        for name, l in load.items():
            lat = l["latency_ms"]
            rows.append([name, f"{l['rps']:.0f}", ms(lat.get("p50", 0)), ms(lat.get("p99", 0)), f"{l['requests']:,}",
                         f"{l['errors']}"])
        errors = [l["errors"] for name, l in load.items() if name.startswith("bookish")]
        self.target("Local load: errors", "none", f"{sum(errors)}", not any(errors),
                    "Read .local/bench/logs and .local/bench/watch.log for the failed requests.")
        first = next(iter(load.values()))
        express = f"express {self.setup['express']}, " if "express" in self.setup else ""
        return (
            provenance(phase)
            + f"`wrk -t{first['threads']} -c{first['connections']} -d{first['seconds']}s --latency` from loopback. "
            "Bookish is the local stack as `make dev` runs it, with release builds: `cargo lambda watch --release` "
            "in front of the functions, which read from moto. The reference is the classic Express catalog "
            f"example ({express}books in memory, `infra/bench/node/express.mjs`). The two are not the same "
            "thing: every Bookish request crosses watch's Lambda emulation (which runs one invocation per "
            "function at a time) and a DynamoDB round-trip to moto, a Python server. The local numbers say "
            "the stack holds up under load without errors; they say nothing about Lambda's throughput, "
            "which scales by adding execution environments.\n\n"
            + table(["target and route", "requests/s", "p50 ms", "p99 ms", "requests", "errors"], rows)
        )

    def header(self) -> str:
        m = self.m
        runs = {phase["run_started_at"] for phase in self.r.values()
                if isinstance(phase, dict) and "run_started_at" in phase}
        mixed = ("\n\nThe sections come from different runs of `make bench`: each says when and at which commit "
                 "it was measured." if len(runs) > 1 else "")
        build = self.r.get("build")
        took = (f" (its build phase alone took {build['seconds'] / 60:.0f} minutes in the run that wrote this: "
                "release builds, natively and for Lambda, of what the target directory did not hold yet)"
                if build else "")
        deployed = self.setup.get("lambda_arch")
        arches = (f" Lambda runs the functions on {deployed} (the services' templates); they are timed here as "
                  f"{m['arch']} builds of the same release profile." if deployed and deployed != m["arch"] else "")
        return f"""# Bookish benchmarks

Written by `make bench` (`infra/bench/bench.py`) on {m['date']}, from the results in
`infra/bench/last-run.json`; do not edit by hand.
Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['arch']}, Linux {m['kernel']};
{m['rustc']}, Node.js {m['node']}, Python {m['python']}.

Absolute times move from run to run, so every comparison below is measured side by side in
the same run, and read as a ratio.{arches}{mixed}

**Reproduce:** `make bench`{took}. `make bench BENCH_ARGS="--only cold,report --rounds N"`
re-runs one part; `--help` lists the phases and knobs. Raw numbers: `.local/bench/results.json`."""

    def render(self) -> str:
        sections = [
            ("Cold start", self.cold()),
            ("Init options", self.init_options()),
            ("Warm overhead", self.overhead()),
            ("Memory", self.memory()),
            ("Artifact size", self.size()),
            ("Cost per order", self.cost()),
            ("End to end, under concurrency", self.end_to_end()),
            ("Local load", self.load()),
        ]
        body = "\n\n".join(f"## {title}\n\n{text}" for title, text in sections)
        missed = "\n".join(self.missed) if self.missed else "Every target is met in this run."
        return f"""{self.header()}

## Targets

{table(["measure", "target", "this run", "verdict"], self.summary)}

{missed}

{body}
"""


EVENTS = {
    "catalog-read": "`GET /v1/books/{id}` of a seeded book",
    "catalog-admin": "`POST /v1/books` as an admin (a new ISBN each time), then `DELETE /v1/books/{id}` of that book, alternately",
    "cart": "`PUT /v1/cart/items/{bookId}` (reads the book from `catalog-read` by Lambda invoke)",
    "order-api": "`GET /v1/orders` (order history)",
    "inventory-api": "`GET /v1/inventory/{bookId}`",
    "inventory-events": "an `OrderPlaced` SQS batch (a new order each time: a real reservation)",
    "order-publisher": "an outbox stream record (relayed to SQS)",
    "order-stock-events": "a `StockReserved` SQS batch for the bench's one real order (a redelivery: read, find it confirmed, acknowledge)",
    "notification-events": "an `OrderConfirmed` SQS batch (a new order each time: a real email)",
    HARNESS: "the floor's event, answered unread",
}

PROFILE_WHY = {
    "opt-level": "size over speed: the handlers wait on I/O, and the warm-overhead table shows their CPU path at this level",
    "lto": "whole-program inlining and dead-code removal across the SDK crates",
    "codegen-units": "one unit per crate, so that nothing is left unoptimised across unit boundaries",
    "strip": "no symbols shipped",
    "panic": "set away from the default",
}

SIZE_CHOICES = """Choices outside the profile:

- SDK crates with `default-features = false` and only `rt-tokio`, `default-https-client` and
  `behavior-version-latest`: one async runtime and one HTTPS client, nothing else compiled in.
- One TLS stack: rustls with aws-lc-rs, shared by the SDK clients and `jsonwebtoken` (its
  `aws_lc_rs` feature); a second crypto library would be a second copy of the same job.
- `panic = "abort"` not taken: `lambda_runtime` turns a handler panic into an invocation error
  and keeps the warm environment; abort would end it and pay another cold start."""


def render(results: dict) -> str:
    return Report(results).render()
