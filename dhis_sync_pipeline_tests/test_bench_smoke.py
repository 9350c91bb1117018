"""The benchmark's data value scenario runs end to end at a tiny size.

Correctness only: no timing target is asserted here (they depend on the machine). The metadata
scenario is left to `python -m bench --quick`, to keep this test short.
"""

import json

from bench.run import main


def test_bench_data_scenario_runs_and_reports(tmp_path):
    output = tmp_path / "bench.json"
    code = main(["--quick", "--skip-metadata", "--org-units", "60", "--data-elements", "20",
                 "--values", "2000", "--output", str(output)])
    results = json.loads(output.read_text())
    assert code == 0, results.get("error")
    rows = {row["measure"]: row for row in results["table"]}
    assert rows["data 2,000: values synced"]["result"] == "PASS"
    data = results["data"][0]
    assert data["sync"]["on_destination"] == 2000
    assert data["incremental"]["read"] == 0
    assert all(run["imported"] == 2000 for run in data["baseline"]["runs"])
    assert data["sync"]["peak_rss_mb"] > 0
