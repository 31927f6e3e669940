"""The production files parse and name only settings Lethe reads (Docker itself does not run here)."""

from __future__ import annotations

import re

import yaml
from support import REPO

from streams.settings import Settings


def lethe_variables_read() -> set[str]:
    source = (REPO / "streams" / "settings.py").read_text()
    return set(re.findall(r'"(LETHE_[A-Z_]+)"', source))


def test_compose_parses_and_sets_only_variables_lethe_reads() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    worker = compose["services"]["lethe-worker"]
    assert worker["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (REPO / worker["build"]["dockerfile"]).is_file()
    names = set(worker["environment"])
    assert names <= lethe_variables_read(), names - lethe_variables_read()
    assert worker["environment"]["LETHE_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert str(worker["environment"]["LETHE_METRICS_PORT"]) in {p.split(":")[1] for p in worker["ports"]}


def test_compose_settings_are_valid_lethe_settings(tmp_path: object) -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    env = {k: str(v) for k, v in compose["services"]["lethe-worker"]["environment"].items()}
    env["LETHE_POLICY"] = str(REPO / "deploy" / "policy.toml")   # the image's path, here
    env["LETHE_PSEUDONYM_KEY"] = "ab" * 32                        # compose takes it from the shell
    env["LETHE_DATA_DIR"] = str(tmp_path)
    settings = Settings.from_env(env)
    assert settings.bootstrap_servers == "kafka:9092"
    assert settings.store_url.startswith("postgresql://")


def test_scrape_config_targets_the_worker_metrics_port() -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text())
    targets = config["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == ["lethe-worker:9108"]
