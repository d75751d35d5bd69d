"""The exported Prometheus rules: `promtool check rules`, the shipped `promtool test rules` file,
and a real Prometheus scraping a real `vitrina up` and firing one rule. Real Debian binaries: a
missing one fails the test with the package to install."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import cli, free_port, wait_until


def binary(name: str, package: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
    if path is None:
        raise AssertionError(f"{name} not found: install Debian's {package} package (apt-get install -y {package})")
    return path


def test_exported_rules_pass_promtool_check_and_the_shipped_tests(tmp_path: Path) -> None:
    promtool = binary("promtool", "prometheus")
    rules = tmp_path / "vitrina-rules.yml"
    done = cli("alerts", "export-prometheus", str(rules))
    assert done.returncode == 0, done.stderr
    test_file = tmp_path / "vitrina-rules.test.yml"
    assert rules.exists() and test_file.exists()
    text = rules.read_text()
    assert 'expr: "vitrina_upload_failure_ratio > 0.5"' in text and "for: 5m" in text
    assert 'expr: "vitrina_upload_items_created == 0 or absent(vitrina_upload_items_created)"' in text
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "7 rules found" in check.stdout, check.stdout + check.stderr
    test = subprocess.run([promtool, "test", "rules", test_file.name], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert test.returncode == 0 and "SUCCESS" in test.stdout, test.stdout + test.stderr


def test_control_and_pchart_rules_export_to_valid_promql(tmp_path: Path) -> None:
    promtool = binary("promtool", "prometheus")
    config = tmp_path / "c.toml"
    config.write_text(
        "[alerts]\ndefault_rules = false\n"
        '[[alerts.rules]]\nname = "AttemptOutOfControl"\nkind = "control"\nfigure = "vitrina_upload_attempt_mean_seconds"\n'
        'k = 3\nbaseline = "1h"\nfor = "2m"\n'
        '[[alerts.rules]]\nname = "FailuresOutOfControl"\nkind = "pchart"\nfigure = "vitrina_upload_failure_ratio"\n'
        'size_figure = "vitrina_upload_attempts"\nbaseline = "30m"\n'
    )
    rules = tmp_path / "r.yml"
    assert cli("alerts", "export-prometheus", str(rules), "--config", str(config)).returncode == 0
    text = rules.read_text()
    assert (
        "vitrina_upload_attempt_mean_seconds > avg_over_time(vitrina_upload_attempt_mean_seconds[1h]) + "
        "3 * stddev_over_time(vitrina_upload_attempt_mean_seconds[1h])" in text
    )
    mean = "avg_over_time(vitrina_upload_failure_ratio[30m])"
    assert f"vitrina_upload_failure_ratio > {mean} + 3 * sqrt({mean} * (1 - {mean}) / vitrina_upload_attempts)" in text
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_decimal_durations_export_as_prometheus_durations(tmp_path: Path) -> None:
    promtool = binary("promtool", "prometheus")
    config = tmp_path / "c.toml"
    config.write_text(
        "[alerts]\ndefault_rules = false\n"
        '[[alerts.rules]]\nname = "FailuresOutOfControl"\nkind = "pchart"\nfigure = "vitrina_upload_failure_ratio"\n'
        'size_figure = "vitrina_upload_attempts"\nbaseline = "0.5h"\nfor = "1.5m"\n'
    )
    rules = tmp_path / "r.yml"
    done = cli("alerts", "export-prometheus", str(rules), "--config", str(config))
    assert done.returncode == 0, done.stderr
    text = rules.read_text()
    assert "vitrina_upload_failure_ratio[30m]" in text and "for: 1m30s" in text
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def quote(mid1: float) -> dict[str, Any]:
    q: dict[str, Any] = {"timestamp": time.time()}
    for i in range(1, 51):
        q[f"bid_{i}"], q[f"ask_{i}"] = float(i), float(i) + 1
    q["bid_1"], q["ask_1"] = mid1 - 0.05, mid1 + 0.05
    return q


def test_real_prometheus_scrapes_vitrina_and_fires_the_quotes_rule(make_vitrina: Any, tmp_folder: Path) -> None:
    prometheus = binary("prometheus", "prometheus")
    v = make_vitrina("[models]\nenabled = false\n[alerts]\ninterval_s = 0.5\n")
    assert v.post("/v1/streams/quotes", [quote(9.95)]).status_code == 200  # level-1 mid above 9.9
    # vitrina's own evaluator fires too, and both see the same gauge
    wait_until(lambda: 'vitrina_quotes_mid_price{level="1"} 9.95' in httpx.get(f"{v.url}/metrics").text, 30, "the gauge on /metrics")

    rules = tmp_folder / "rules.yml"
    assert cli("alerts", "export-prometheus", str(rules)).returncode == 0
    port = free_port()
    (tmp_folder / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {rules}\n"
        f"scrape_configs:\n  - job_name: vitrina\n    static_configs:\n      - targets: ['127.0.0.1:{v.port}']\n"
    )
    log = open(tmp_folder / "prometheus.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp_folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_folder / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        api = f"http://127.0.0.1:{port}/api/v1"

        def firing() -> Any:
            if proc.poll() is not None:
                raise AssertionError(f"prometheus exited: {(tmp_folder / 'prometheus.log').read_text()[-2000:]}")
            alerts = httpx.get(f"{api}/alerts", timeout=2).json()["data"]["alerts"]
            return [a for a in alerts if a["labels"]["alertname"] == "QuotesMidPriceHigh" and a["state"] == "firing"]

        alert = wait_until(firing, 45, "Prometheus firing QuotesMidPriceHigh")[0]
        assert alert["labels"]["level"] == "1" and alert["labels"]["job"] == "vitrina"
        assert float(alert["value"]) == 9.95
        # and vitrina's evaluator agrees
        rule = next(r for r in httpx.get(f"{v.url}/v1/alerts").json() if r["name"] == "QuotesMidPriceHigh")
        assert rule["instances"][0]["state"] == "firing"
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def test_cli_list_and_check(make_vitrina: Any) -> None:
    v = make_vitrina("[models]\nenabled = false\n[alerts]\nenabled = false\n")
    listed = cli("alerts", "list", "--data-dir", str(v.data_dir))
    assert listed.returncode == 0, listed.stderr
    assert "UploadFailureRateHigh" in listed.stdout and "vitrina_upload_failure_ratio > 0.5" in listed.stdout
    checked = cli("alerts", "check", "--data-dir", str(v.data_dir))
    assert checked.returncode == 0, checked.stderr
    # no uploads today: fewer than 100 sellers is true; no quotes: the quotes rule has no value
    assert "UploadSellersFew" in checked.stdout and "7 rules valid" in checked.stderr
    v.stop()
    offline = cli("alerts", "check", "--data-dir", str(v.data_dir))
    assert offline.returncode == 0, offline.stderr
    bad = v.data_dir.parent / "bad.toml"
    bad.write_text('[[alerts.rules]]\nname = "X"\nkind = "threshold"\nfigure = "nope"\nvalue = 1\n')
    refused = cli("alerts", "check", "--config", str(bad))
    assert refused.returncode == 2 and "unknown figure" in refused.stderr
