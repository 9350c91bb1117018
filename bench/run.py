"""Benchmark the DHIS2 sync against emulated DHIS2 servers on loopback.

    .venv/bin/python -m bench            # full sizes (a few minutes)
    .venv/bin/python -m bench --quick    # small sizes, a smoke test (under a minute)
    .venv/bin/python bench/run.py [--quick]

Every emulator is its own process (`python -m dhis_sync_pipeline.emulator`), and so is every
sync run (`python -m bench.child`, which calls `dhis_sync_pipeline.launch.execute_in_process`
on a real Dagster instance in a temporary DAGSTER_HOME), so the sync's CPU time and peak RSS
are its own. Each measurement is set against a baseline measured in the same run: the same
content copied between the same kind of emulators with the fewest raw requests the Web API
allows (one export, one import) — the floor the emulator itself sets.

1. Metadata: a generated source (organisationUnits in a 5-level tree, dataElements, …) into an
   empty destination: the `sync_<id>` job with the default metadata resources, against one
   `GET /api/metadata` + one `POST /api/metadata` (the metadata step's objects/s against the
   floor's, and the whole run's time); then the same job again with nothing changed; Dagster's
   own cost of that step (`python -m bench.dagster_floor`: same asset specs, no work); then a
   large source (50,000 orgUnits, 5,000 dataElements) into another empty destination, its run
   time against the first run's.
2. Data values, per size: the job's data assets (the destination already holds the generated
   metadata, no values) against one `GET /api/dataValueSets` (all dataSets, the root orgUnit,
   children=true, the window) + one synchronous `POST /api/dataValueSets`; then a second run
   of the job with nothing changed (incremental).

Prints a table (measured, target, PASS/MISS) and writes the same to bench/results/*.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
USER, PASSWORD = "admin", "district"  # the emulator's default superuser
PASSWORD_ENV = "BENCH_DHIS2_PASSWORD"
WINDOW = ("2000-01-01", "2030-12-31")  # the generator writes 2024's months
LEVELS = 5

# Targets (from the issues).
TARGET_DATA_RATIO = 0.8  # sync values/s ÷ baseline values/s
TARGET_RSS_MB = 250  # peak RSS of the sync process at the largest size
TARGET_RSS_GROWTH = 0.10  # peak RSS may grow less than this from the smallest to the largest size
TARGET_INCREMENTAL_S = 2.0  # step time of a no-change incremental run
TARGET_METADATA_RATIO = 0.8  # the metadata step's objects/s ÷ the floor's (one GET + one POST)
TARGET_METADATA_RUN_S = 3.0  # the whole metadata run, Dagster's run start included (quiet machine)
TARGET_METADATA_UNCHANGED_S = 1.0  # the metadata step of a run with nothing changed
TARGET_METADATA_LARGE_TIMES = 10.0  # 50,000 orgUnits + 5,000 dataElements ÷ the 6,545-object run
OLD_TOOL_METADATA_S = 25 * 60  # the old tool at 5,000 orgUnits / 1,500 dataElements


@dataclass(frozen=True)
class Sizes:
    org_units: int
    data_elements: int
    data_sets: int
    value_counts: tuple[int, ...]
    large_org_units: int = 0  # the large metadata source (0: not run)
    large_data_elements: int = 0


FULL = Sizes(org_units=5_000, data_elements=1_500, data_sets=3, value_counts=(100_000, 1_000_000),
             large_org_units=50_000, large_data_elements=5_000)
QUICK = Sizes(org_units=500, data_elements=150, data_sets=3, value_counts=(20_000,),
              large_org_units=5_000, large_data_elements=500)


# ------------------------------------------------------------------------------- emulators


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Emulator:
    role: str
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def emulators(specs: dict[str, dict[str, Any]], log_dir: Path) -> Iterator[dict[str, Emulator]]:
    """Start one emulator process per role (`seed` and generator sizes); stop them all on exit."""
    running: dict[str, Emulator] = {}
    try:
        for role, spec in specs.items():
            port = free_port()
            command = [sys.executable, "-m", "dhis_sync_pipeline.emulator", "--port", str(port),
                       "--seed", spec.get("seed", "generated")]
            for option in ("org_units", "levels", "data_elements", "data_sets", "data_values"):
                if option in spec:
                    command += [f"--{option.replace('_', '-')}", str(spec[option])]
            log = log_dir / f"emulator_{role}.log"
            with open(log, "w", encoding="utf-8") as out:
                process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
            running[role] = Emulator(role, port, process, log)
        for emulator in running.values():
            _wait_until_up(emulator, timeout=300)
        yield running
    finally:
        for emulator in running.values():
            if emulator.process.poll() is None:
                emulator.process.terminate()
        for emulator in running.values():
            try:
                emulator.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                emulator.process.kill()


def _wait_until_up(emulator: Emulator, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if emulator.process.poll() is not None:
            raise RuntimeError(f"emulator {emulator.role} exited ({emulator.process.returncode}); "
                               f"see {emulator.log}:\n{emulator.log.read_text()[-2000:]}")
        try:
            if requests.get(f"{emulator.url}/api/system/ping", timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"emulator {emulator.role} did not answer within {timeout:.0f}s")


def api(emulator: Emulator) -> requests.Session:
    session = requests.Session()
    session.auth = (USER, PASSWORD)
    return session


def ids(emulator: Emulator, collection: str, **params: str) -> list[str]:
    with api(emulator) as session:
        response = session.get(f"{emulator.url}/api/{collection}",
                               params={"fields": "id", "paging": "false", **params}, timeout=60)
        response.raise_for_status()
        return sorted(obj["id"] for obj in response.json()[collection])


# ------------------------------------------------------------------------------- the product


def write_config(home: Path, config_id: str, source: Emulator, destination: Emulator,
                 data: tuple[list[str], list[str]] | None = None) -> Path:
    """A configuration file as a user would write it: metadata only, or data values only."""
    lines = [
        "instances:",
        "  - name: bench_source",
        f"    base_url: {source.url}",
        f"    auth: {{type: basic, username: {USER}, password_env: {PASSWORD_ENV}}}",
        "  - name: bench_destination",
        f"    base_url: {destination.url}",
        f"    auth: {{type: basic, username: {USER}, password_env: {PASSWORD_ENV}}}",
        "sync_configurations:",
        f"  - id: {config_id}",
        f"    name: Benchmark {config_id}",
        "    source: bench_source",
        "    destination: bench_destination",
        "    step_retries: {max_retries: 0}",
    ]
    if data is None:
        pass  # the default metadata resources, no data section
    else:
        data_sets, roots = data
        lines += [
            "    metadata: {resources: []}   # the destination already holds the metadata",
            "    data:",
            f"      data_sets: [{', '.join(data_sets)}]",
            f"      org_units: [{', '.join(roots)}]",
            f"      start_date: {WINDOW[0]}",
            f"      end_date: {WINDOW[1]}",
        ]
    path = home / f"{config_id}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _child(module: str, home: Path, config: Path, config_id: str, log: Path) -> tuple[dict[str, Any], float]:
    """Run `python -m <module> --config … --config-id …` on a Dagster home; its last JSON line and wall time."""
    env = dict(os.environ, DAGSTER_HOME=str(home), DHIS_SYNC_CONFIG=str(config), **{PASSWORD_ENV: PASSWORD})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    began = time.perf_counter()
    with open(log, "w", encoding="utf-8") as err:
        result = subprocess.run([sys.executable, "-m", module, "--config", str(config), "--config-id", config_id],
                                env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True, check=False)
    wall = time.perf_counter() - began
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"{module} failed (exit {result.returncode}); see {log}:\n{log.read_text()[-3000:]}")
    return json.loads(lines[-1]), wall


def run_sync(home: Path, config: Path, config_id: str, log_dir: Path, label: str) -> dict[str, Any]:
    """One run of `sync_<config_id>` in its own process; its JSON report (see bench/child.py)."""
    log = log_dir / f"sync_{label}.log"
    report, wall = _child("bench.child", home, config, config_id, log)
    report["process_seconds"] = round(wall, 3)
    report["log"] = str(log)
    if report["status"] != "SUCCESS":
        raise RuntimeError(f"sync run {label} ended {report['status']}: {report['failures']} (log: {log})")
    return report


def run_dagster_floor(home: Path, config: Path, config_id: str, log_dir: Path, label: str) -> dict[str, Any]:
    """Dagster's cost of the metadata step's shape with no work in it (see bench/dagster_floor.py)."""
    return _child("bench.dagster_floor", home, config, config_id, log_dir / f"dagster_floor_{label}.log")[0]


def new_home(base: Path, name: str) -> Path:
    home = base / name
    home.mkdir(parents=True)
    # The embedded SQLite default; no telemetry.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    return home


# ------------------------------------------------------------------------------- baselines


def baseline_metadata(source: Emulator, destination: Emulator, resources: list[str]) -> dict[str, Any]:
    """One raw `GET /api/metadata` export and one raw synchronous `POST /api/metadata` import."""
    with api(source) as src, api(destination) as dst:
        began = time.perf_counter()
        exported = src.get(f"{source.url}/api/metadata",
                           params={"fields": ":owner", **{r: "true" for r in resources}}, timeout=600)
        exported.raise_for_status()
        read = time.perf_counter()
        payload = exported.json()
        payload.pop("system", None)
        body = json.dumps(payload, separators=(",", ":")).encode()
        imported = dst.post(f"{destination.url}/api/metadata", data=body,
                            headers={"Content-Type": "application/json"},
                            params={"identifier": "UID", "importStrategy": "CREATE_AND_UPDATE",
                                    "atomicMode": "NONE", "importReportMode": "ERRORS", "async": "false"},
                            timeout=600)
        finished = time.perf_counter()
    report = imported.json()
    stats = report.get("stats") or (report.get("response") or {}).get("stats") or {}
    counts = {k: len(v) for k, v in payload.items() if isinstance(v, list)}
    return {
        "objects": sum(counts.values()),
        "objects_by_type": counts,
        "seconds": round(finished - began, 3),
        "export_seconds": round(read - began, 3),
        "import_seconds": round(finished - read, 3),
        "status": report.get("status") or (report.get("response") or {}).get("status"),
        "stats": stats,
    }


def data_export_params(data_sets: list[str], roots: list[str]) -> dict[str, Any]:
    return {"dataSet": data_sets, "orgUnit": roots, "children": "true",
            "startDate": WINDOW[0], "endDate": WINDOW[1]}


def baseline_data(source: Emulator, destination: Emulator, data_sets: list[str], roots: list[str]) -> dict[str, Any]:
    """One raw export request and one raw synchronous import request, the body passed through."""
    with api(source) as src, api(destination) as dst:
        began = time.perf_counter()
        exported = src.get(f"{source.url}/api/dataValueSets", params=data_export_params(data_sets, roots),
                           headers={"Accept": "application/json"}, timeout=600)
        exported.raise_for_status()
        body = exported.content
        read = time.perf_counter()
        imported = dst.post(f"{destination.url}/api/dataValueSets", data=body,
                            headers={"Content-Type": "application/json"},
                            params={"importStrategy": "CREATE_AND_UPDATE", "idScheme": "UID", "async": "false"},
                            timeout=600)
        finished = time.perf_counter()
    summary = imported.json()
    summary = summary.get("response", summary) if isinstance(summary, dict) else {}
    counts = summary.get("importCount") or {}
    values = counts.get("imported", 0) + counts.get("updated", 0) + counts.get("ignored", 0)
    return {
        "values": values,
        "imported": counts.get("imported", 0),
        "seconds": round(finished - began, 3),
        "export_seconds": round(read - began, 3),
        "import_seconds": round(finished - read, 3),
        "status": summary.get("status"),
    }


def count_values(emulator: Emulator, data_sets: list[str], roots: list[str]) -> int:
    """How many values the emulator holds in the window (a check, not timed)."""
    with api(emulator) as session:
        response = session.get(f"{emulator.url}/api/dataValueSets", params=data_export_params(data_sets, roots),
                               timeout=600)
        response.raise_for_status()
        return len(response.json().get("dataValues") or [])


# ------------------------------------------------------------------------------- scenarios


def metadata_scenario(sizes: Sizes, work: Path, log_dir: Path) -> dict[str, Any]:
    """The metadata of a generated source into an empty destination, then a no-change run, then a
    large source (`sizes.large_*`) into another empty destination, against the raw floor."""
    first = _metadata_sync(sizes.org_units, sizes.data_elements, sizes.data_sets, work, log_dir,
                           label="metadata", again=True)
    large = None
    if sizes.large_org_units:
        large = _metadata_sync(sizes.large_org_units, sizes.large_data_elements, sizes.data_sets, work, log_dir,
                               label="metadata_large", again=False)
    return {**first, "large": large}


def _metadata_sync(org_units: int, data_elements: int, data_sets: int, work: Path, log_dir: Path, *,
                   label: str, again: bool) -> dict[str, Any]:
    generated = {"seed": "generated", "org_units": org_units, "levels": LEVELS,
                 "data_elements": data_elements, "data_sets": data_sets, "data_values": 0}
    specs = {"meta_source": generated, "meta_dest_sync": {"seed": "empty"}, "meta_dest_baseline": {"seed": "empty"}}
    print(f"[{label}] starting emulators: {org_units} orgUnits ({LEVELS} levels), {data_elements} dataElements",
          flush=True)
    with emulators(specs, log_dir) as emu:
        from dhis_sync_pipeline.dhis2.metadata_types import DEFAULT_METADATA_RESOURCES

        resources = list(DEFAULT_METADATA_RESOURCES)
        print(f"[{label}] floor: one GET /api/metadata + one POST /api/metadata", flush=True)
        baseline = baseline_metadata(emu["meta_source"], emu["meta_dest_baseline"], resources)
        home = new_home(work, f"{label}_home")
        config = write_config(home, "bench_metadata", emu["meta_source"], emu["meta_dest_sync"])
        print(f"[{label}] sync: job sync_bench_metadata (full, into an empty destination)", flush=True)
        sync = _metadata_report(run_sync(home, config, "bench_metadata", log_dir, label))
        unchanged = dagster_floor = None
        if again:
            print(f"[{label}] sync again, nothing changed", flush=True)
            unchanged = _metadata_report(run_sync(home, config, "bench_metadata", log_dir, f"{label}_unchanged"))
            print(f"[{label}] Dagster's floor: the same metadata step with an empty body", flush=True)
            dagster_floor = run_dagster_floor(new_home(work, f"{label}_dagster_floor_home"), config,
                                              "bench_metadata", log_dir, label)
    base = {**baseline, "objects_per_second": round(baseline["objects"] / baseline["seconds"], 1)}
    ratio = sync["step_objects_per_second"] / base["objects_per_second"] if base["objects_per_second"] else None
    return {
        "sizes": {"org_units": org_units, "levels": LEVELS, "data_elements": data_elements},
        "sync": sync,
        "unchanged": unchanged,
        "dagster_floor": dagster_floor,
        "baseline": base,
        "step_ratio": round(ratio, 3) if ratio is not None else None,
    }


def _metadata_report(report: dict[str, Any]) -> dict[str, Any]:
    """A run's metadata figures: objects per type, the metadata step's own time, the whole run."""
    per_type = {}
    for key, meta in report["assets"].items():
        parts = key.split("/")
        if len(parts) == 3 and parts[1] == "metadata":
            per_type[parts[2]] = {"objects": meta.get("read", 0), "created": meta.get("created"),
                                  "errors": meta.get("errors")}
    # duration_seconds of a type: the sync work of the whole step (read, clean, post, reports),
    # the same for every type; the rest of the step's time is Dagster recording its results.
    work = max((meta.get("duration_seconds") or 0.0 for key, meta in report["assets"].items()
                if "/metadata/" in key), default=0.0)
    steps = report["steps"]
    step = next((v["seconds"] or 0.0 for k, v in steps.items() if k.endswith("__metadata")), 0.0)
    check = next((v["seconds"] or 0.0 for k, v in steps.items() if k.endswith("__metadata_uids")), 0.0)
    objects = sum(t["objects"] for t in per_type.values())
    return {
        "objects": objects,
        "errors": sum(t["errors"] or 0 for t in per_type.values()),
        "metadata_step_seconds": round(step, 3),  # read, clean, post, map the reports: the sync itself
        "work_seconds": round(work, 3),
        "uid_check_step_seconds": round(check, 3),
        "step_objects_per_second": round(objects / step, 1) if step else 0.0,
        "run_seconds": report["run_seconds"],  # execute_in_process: Dagster's run start and every step
        "process_seconds": report["process_seconds"],  # + interpreter start and imports
        "per_type": per_type,
        "peak_rss_mb": report["peak_rss_mb"],
        "run_id": report["run_id"],
    }


def data_scenario(sizes: Sizes, count: int, work: Path, log_dir: Path) -> dict[str, Any]:
    generated = {"seed": "generated", "org_units": sizes.org_units, "levels": LEVELS,
                 "data_elements": sizes.data_elements, "data_sets": sizes.data_sets}
    specs = {f"data{count}_source": {**generated, "data_values": count},
             f"data{count}_dest_sync": {**generated, "data_values": 0},
             f"data{count}_dest_baseline": {**generated, "data_values": 0},
             f"data{count}_dest_baseline2": {**generated, "data_values": 0}}
    print(f"[data {count:,}] starting emulators (source with {count:,} values; destinations with the "
          "same metadata, no values)", flush=True)
    with emulators(specs, log_dir) as emu:
        source = emu[f"data{count}_source"]
        dest_sync, dest_baseline = emu[f"data{count}_dest_sync"], emu[f"data{count}_dest_baseline"]
        data_sets = ids(source, "dataSets")
        roots = ids(source, "organisationUnits", filter="level:eq:1")

        # The baseline runs before and after the sync (into two empty destinations) and the ratio
        # uses their mean, so a load change on the machine during the run weighs on both sides.
        print(f"[data {count:,}] baseline: one GET + one POST /api/dataValueSets", flush=True)
        baselines = [baseline_data(source, dest_baseline, data_sets, roots)]

        home = new_home(work, f"data{count}_home")
        config = write_config(home, "bench_data", source, dest_sync, (data_sets, roots))
        print(f"[data {count:,}] sync: data assets of sync_bench_data (first run)", flush=True)
        first = run_sync(home, config, "bench_data", log_dir, f"data{count}_first")
        print(f"[data {count:,}] sync: no-change incremental run", flush=True)
        again = run_sync(home, config, "bench_data", log_dir, f"data{count}_incremental")
        print(f"[data {count:,}] baseline again, into another empty destination", flush=True)
        baselines.append(baseline_data(source, emu[f"data{count}_dest_baseline2"], data_sets, roots))
        on_destination = count_values(dest_sync, data_sets, roots)

    def data_assets(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
        found = {}
        for key, meta in report["assets"].items():
            parts = key.split("/")
            if len(parts) == 3 and parts[1] == "data":
                step = next((s for k, s in report["steps"].items() if k.endswith(parts[2])), {})
                found[parts[2]] = {**{k: meta.get(k) for k in ("read", "created", "updated", "errors", "chunks",
                                                            "export_requests", "slice_splits",
                                                            "duration_seconds", "objects_per_second")},
                                   "step_seconds": step.get("seconds")}
        return found

    def check_seconds(report: dict[str, Any]) -> float:
        """Step time of the dataSets' verification checks (a step each, after the sync step)."""
        return round(sum(s.get("seconds") or 0 for k, s in report["steps"].items()
                         if k.endswith("_destination_holds_source_values")), 3)

    first_assets, again_assets = data_assets(first), data_assets(again)
    read = sum(a["read"] or 0 for a in first_assets.values())
    asset_seconds = sum(a["duration_seconds"] or 0 for a in first_assets.values())
    step_seconds = sum(a["step_seconds"] or 0 for a in first_assets.values())
    sync_rate = read / asset_seconds if asset_seconds else 0.0
    baseline = {
        "values": min(b["values"] for b in baselines),
        "seconds": round(sum(b["seconds"] for b in baselines) / len(baselines), 3),
        "runs": baselines,
    }
    baseline_rate = baseline["values"] / baseline["seconds"] if baseline["seconds"] else 0.0
    return {
        "values": count,
        "sync": {
            "values": read,
            "created": sum(a["created"] or 0 for a in first_assets.values()),
            "errors": sum(a["errors"] or 0 for a in first_assets.values()),
            "on_destination": on_destination,
            "seconds": round(asset_seconds, 3),  # the data assets' own duration_seconds
            "step_seconds": round(step_seconds, 3),  # Dagster's step timing of the same steps
            "run_seconds": first["run_seconds"],  # execute_in_process: preflight + data steps
            "values_per_second": round(sync_rate, 1),
            "peak_rss_mb": first["peak_rss_mb"],
            "peak_rss_mb_by_step": {k: v.get("peak_rss_mb") for k, v in first["steps"].items()},
            "check_step_seconds": check_seconds(first),
            "per_data_set": first_assets,
            "run_id": first["run_id"],
        },
        "baseline": {**baseline, "values_per_second": round(baseline_rate, 1)},
        "ratio": round(sync_rate / baseline_rate, 3) if baseline_rate else None,
        "incremental": {
            "read": sum(a["read"] or 0 for a in again_assets.values()),
            "seconds": round(sum(a["duration_seconds"] or 0 for a in again_assets.values()), 3),
            "step_seconds": round(sum(a["step_seconds"] or 0 for a in again_assets.values()), 3),
            "max_step_seconds": max((a["step_seconds"] or 0 for a in again_assets.values()), default=0),
            "run_seconds": again["run_seconds"],
            "peak_rss_mb": again["peak_rss_mb"],
            "check_step_seconds": check_seconds(again),
            "per_data_set": again_assets,
        },
    }


# ------------------------------------------------------------------------------- report


def checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the table: what was measured, its target and PASS/MISS (None: no target)."""
    rows: list[dict[str, Any]] = []

    def row(name: str, measured: str, target: str = "", passed: bool | None = None) -> None:
        rows.append({"measure": name, "measured": measured, "target": target,
                     "result": "" if passed is None else ("PASS" if passed else "MISS")})

    meta = results.get("metadata")
    if meta:
        sync, base, unchanged, large = meta["sync"], meta["baseline"], meta["unchanged"], meta["large"]
        row("metadata: objects synced", f"{sync['objects']:,} ({sync['errors']} rejected)",
            "all, 0 rejected", sync["errors"] == 0 and sync["objects"] >= base["objects"])
        row("metadata: floor GET+POST /api/metadata", f"{base['objects']:,} in {base['seconds']:.2f} s = "
            f"{base['objects_per_second']:,.0f}/s")
        row("metadata: sync step objects/s", f"{sync['step_objects_per_second']:,.0f} "
            f"({sync['metadata_step_seconds']:.2f} s)")
        if sync["work_seconds"]:
            row("metadata: sync work inside the step (read, clean, post, reports)",
                f"{sync['work_seconds']:.2f} s = {sync['objects'] / sync['work_seconds']:,.0f}/s, "
                f"{sync['objects'] / sync['work_seconds'] / base['objects_per_second']:.2f} x floor")
        row("metadata: sync step / floor objects/s", f"{meta['step_ratio']:.2f}", f">= {TARGET_METADATA_RATIO}",
            meta["step_ratio"] >= TARGET_METADATA_RATIO)
        empty = meta.get("dagster_floor")
        if empty:
            # The same step shape doing no work: what Dagster alone takes to record per-type results.
            row(f"metadata: Dagster's own step, empty body ({empty['types']} types)",
                f"{empty['first_step_seconds']:.2f} s (again {empty['again_step_seconds']:.2f} s) = "
                f"{empty['first_step_seconds'] / base['seconds']:.1f} x the whole floor")
        row("metadata: whole run (Dagster's run start, every step)", f"{sync['run_seconds']:.2f} s "
            f"(UID checks {sync['uid_check_step_seconds']:.2f} s; process {sync['process_seconds']:.1f} s)",
            f"< {TARGET_METADATA_RUN_S:.0f} s", sync["run_seconds"] < TARGET_METADATA_RUN_S)
        row("metadata: no-change run, metadata step", f"{unchanged['metadata_step_seconds']:.2f} s "
            f"({unchanged['objects']} read; run {unchanged['run_seconds']:.2f} s)",
            f"< {TARGET_METADATA_UNCHANGED_S:.0f} s", unchanged["metadata_step_seconds"] < TARGET_METADATA_UNCHANGED_S
            and unchanged["objects"] == 0)
        if large:
            times = large["sync"]["run_seconds"] / sync["run_seconds"]
            row(f"metadata large: {large['sizes']['org_units']:,} orgUnits, {large['sizes']['data_elements']:,} "
                "dataElements", f"{large['sync']['objects']:,} objects in {large['sync']['run_seconds']:.1f} s "
                f"({large['sync']['errors']} rejected; floor {large['baseline']['seconds']:.1f} s)")
            row(f"metadata large / {sync['objects']:,}-object run time", f"{times:.1f}x",
                f"< {TARGET_METADATA_LARGE_TIMES:.0f}x", times < TARGET_METADATA_LARGE_TIMES
                and large["sync"]["errors"] == 0 and large["sync"]["objects"] >= large["baseline"]["objects"])
        row("metadata: total time against the old tool", f"{sync['run_seconds']:.1f} s",
            f"< {OLD_TOOL_METADATA_S / 60:.0f} min (old tool)", sync["run_seconds"] < OLD_TOOL_METADATA_S)
    sizes = results.get("data", [])
    for entry in sizes:
        n = f"{entry['values']:,}"
        sync, base, inc = entry["sync"], entry["baseline"], entry["incremental"]
        row(f"data {n}: values synced", f"{sync['values']:,} read, {sync['on_destination']:,} on destination, "
            f"{sync['errors']} rejected", "all, 0 rejected",
            sync["errors"] == 0 and sync["on_destination"] == base["values"] == sync["values"])
        row(f"data {n}: sync values/s", f"{sync['values_per_second']:,.0f} ({sync['seconds']:.1f} s)")
        row(f"data {n}: baseline values/s", f"{base['values_per_second']:,.0f} ({base['seconds']:.1f} s; runs "
            + ", ".join(f"{b['seconds']:.1f}" for b in base["runs"]) + " s)")
        row(f"data {n}: ratio sync/baseline", f"{entry['ratio']:.2f}", f">= {TARGET_DATA_RATIO}",
            entry["ratio"] is not None and entry["ratio"] >= TARGET_DATA_RATIO)
        largest = entry is sizes[-1]
        row(f"data {n}: sync peak RSS", f"{sync['peak_rss_mb']:.0f} MB",
            f"< {TARGET_RSS_MB} MB" if largest else "",
            sync["peak_rss_mb"] < TARGET_RSS_MB if largest else None)
        if largest and len(sizes) > 1:
            smallest = sizes[0]["sync"]["peak_rss_mb"]
            growth = sync["peak_rss_mb"] / smallest - 1 if smallest else 0.0
            row(f"data: peak RSS growth {sizes[0]['values']:,} -> {n}", f"{growth:+.0%} ({smallest:.0f} MB -> "
                f"{sync['peak_rss_mb']:.0f} MB)", f"< {TARGET_RSS_GROWTH:.0%}", growth < TARGET_RSS_GROWTH)
        requests_made = sum((a.get("export_requests") or 0) for a in sync["per_data_set"].values())
        splits = sum((a.get("slice_splits") or 0) for a in sync["per_data_set"].values())
        row(f"data {n}: export requests (slices split)", f"{requests_made} ({splits})")
        row(f"data {n}: verification check steps (first run, no-change run)",
            f"{sync['check_step_seconds']:.1f} s, {inc['check_step_seconds']:.1f} s")
        row(f"data {n}: no-change incremental step time", f"{inc['step_seconds']:.2f} s "
            f"(max step {inc['max_step_seconds']:.2f} s, {inc['read']} read)",
            f"< {TARGET_INCREMENTAL_S:.0f} s", inc["step_seconds"] < TARGET_INCREMENTAL_S)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    widths = [max(len(r[k]) for r in rows + [{"measure": "measure", "measured": "measured",
                                                "target": "target", "result": "result"}])
              for k in ("measure", "measured", "target", "result")]
    header = ("measure", "measured", "target", "result")
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print("\n" + line + "\n" + "-" * len(line))
    for r in rows:
        print("  ".join(r[k].ljust(w) for k, w in zip(header, widths)).rstrip())


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test in under a minute")
    parser.add_argument("--skip-metadata", action="store_true", help="only the data value scenarios")
    parser.add_argument("--skip-data", action="store_true", help="only the metadata scenario")
    parser.add_argument("--values", type=int, action="append",
                        help="data value counts to run (repeatable; default 100000 and 1000000, quick: 20000)")
    parser.add_argument("--org-units", type=int, help="orgUnits in the generated source (default 5000, quick: 500)")
    parser.add_argument("--data-elements", type=int, help="dataElements in the generated source (default 1500, quick: 150)")
    parser.add_argument("--skip-large", action="store_true", help="no large metadata source (50,000 orgUnits)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (Dagster homes, logs)")
    parser.add_argument("--output", type=Path, help="where to write the JSON (default bench/results/<time>.json)")
    args = parser.parse_args(argv)

    sizes = QUICK if args.quick else FULL
    sizes = Sizes(args.org_units or sizes.org_units, args.data_elements or sizes.data_elements,
                  sizes.data_sets, tuple(args.values or sizes.value_counts),
                  0 if args.skip_large else sizes.large_org_units, sizes.large_data_elements)
    work = Path(tempfile.mkdtemp(prefix="dhis_sync_bench_"))
    log_dir = work / "logs"
    log_dir.mkdir()
    started = dt.datetime.now()
    results: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "targets": {"data_ratio": TARGET_DATA_RATIO, "peak_rss_mb": TARGET_RSS_MB,
                    "incremental_step_seconds": TARGET_INCREMENTAL_S, "old_tool_metadata_seconds": OLD_TOOL_METADATA_S,
                    "metadata_step_ratio": TARGET_METADATA_RATIO, "metadata_run_seconds": TARGET_METADATA_RUN_S,
                    "metadata_unchanged_step_seconds": TARGET_METADATA_UNCHANGED_S,
                    "metadata_large_times": TARGET_METADATA_LARGE_TIMES},
    }
    results["load_average_at_start"] = _load()
    print(f"Benchmark ({results['mode']}); logs and Dagster homes in {work}", flush=True)
    ok = True
    try:
        if not args.skip_metadata:
            results["metadata"] = metadata_scenario(sizes, work, log_dir)
        if not args.skip_data:
            results["data"] = [data_scenario(sizes, count, work, log_dir) for count in sizes.value_counts]
    except Exception as exc:  # noqa: BLE001 - report what was measured so far, then fail
        results["error"] = f"{type(exc).__name__}: {exc}"
        print(f"\nBENCHMARK FAILED: {results['error']}", file=sys.stderr)
        ok = False
        args.keep = True
    results["seconds"] = round((dt.datetime.now() - started).total_seconds(), 1)
    results["load_average_at_end"] = _load()
    rows = checks(results)
    results["table"] = rows
    if rows:
        print_table(rows)
    output = args.output or RESULTS / f"bench_{results['mode']}_{started:%Y%m%d_%H%M%S}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nResults: {output} ({results['seconds']:.0f} s in all)")
    busy = max(results["load_average_at_start"] or 0, results["load_average_at_end"] or 0)
    if busy > 0.5 * (os.cpu_count() or 1):
        print(f"Note: 1-minute load average {results['load_average_at_start']} at start, "
              f"{results['load_average_at_end']} at end on {os.cpu_count()} CPUs: other work on this "
              "machine makes the timings noisy; rerun on an idle machine for figures to quote.")
    if args.keep:
        print(f"Kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    missed = [r for r in rows if r["result"] == "MISS"]
    if missed:
        print(f"{len(missed)} target(s) missed: " + "; ".join(r["measure"] for r in missed))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
