"""The production files hang together (Docker itself does not run here).

docker-compose.yml: three KRaft brokers, the Lethe services with settings Lethe reads and accepts,
a store agent for every partner of the shipped policy (on its own database, which the postgres
init script creates with the tables its mapping names), pinned images, scrape targets that are
services serving metrics, mounts that exist, Grafana's provisioning where it is mounted.
deploy/Dockerfile: its install step, run in a fresh virtual environment on a copy of its build
context, gives a working `lethe` (slow: about 20 s).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import REPO

from processors.errors import ConfigError
from processors.partners import Partner
from processors.plan import personal_fields
from processors.policy import Policy, load_policy
from streams.settings import Settings
from streams.store.mapping import StoreMapping, load_mapping

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
POSTGRES_INIT = "/docker-entrypoint-initdb.d"
VALID_KEY = "ab" * 32


# -- helpers -----------------------------------------------------------------------------------------

def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):   # the KEY=VALUE list form
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def lethe_services() -> dict[str, dict[str, Any]]:
    """The services built from deploy/Dockerfile."""
    return {name: s for name, s in services().items() if isinstance(s.get("build"), dict)
            and s["build"].get("dockerfile") == "deploy/Dockerfile"}


def command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command", ["run"])   # the image's CMD
    return cmd.split() if isinstance(cmd, str) else list(cmd)


def kafka_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services().items() if str(s.get("image", "")).startswith("apache/kafka:")}


def interpolate(value: str, shell: dict[str, str]) -> str:
    """Compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR:?error}, $VAR and $$."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("plain")
        op, arg = match.group("op") or "", match.group("arg") or ""
        value = shell.get(name, "")
        if op in (":?", "?") and (name not in shell or (op == ":?" and not value)):
            raise ConfigError(f"compose would refuse to start: {name}: {arg}")
        if op in (":-", "-") and (name not in shell or (op == ":-" and not value)):
            return arg
        return value

    pattern = r"\$\$|\$\{(?P<braced>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<plain>\w+)"
    return re.sub(pattern, replace, value)


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def workdir() -> str:
    [path] = [rest for keyword, rest in dockerfile_instructions() if keyword == "WORKDIR"]
    return path


def host_path(image_path: str, root: Path) -> str:
    """A path inside the image (under WORKDIR) as a path under ``root``, the copied build context."""
    prefix = workdir().rstrip("/") + "/"
    return str(root / image_path[len(prefix):]) if image_path.startswith(prefix) else image_path


def local_env(service: dict[str, Any], tmp_path: Path, root: Path = REPO) -> dict[str, str]:
    """A service's environment as the container gets it, with the image's paths made local."""
    env = {k: interpolate(v, {"LETHE_PSEUDONYM_KEY": VALID_KEY}) for k, v in environment(service).items()}
    for name, value in env.items():
        env[name] = host_path(value, root)
    env["LETHE_DATA_DIR"] = str(tmp_path / "data")   # the image's ENV; /var/lib/lethe is not writable here
    return env


def lethe_variables_read() -> set[str]:
    """Every LETHE_ variable Settings.from_env asks for (recorded, not grepped)."""
    asked: set[str] = set()

    class Recording(dict[str, str]):
        def get(self, key: str, default: Any = None) -> Any:
            asked.add(key)
            return super().get(key, default)

        def __getitem__(self, key: str) -> str:
            asked.add(key)
            return super().__getitem__(key)

    Settings.from_env(Recording(LETHE_PSEUDONYM_KEY=VALID_KEY))
    source = (REPO / "streams" / "settings.py").read_text()
    assert set(re.findall(r'"(LETHE_[A-Z_]+)"', source)) <= asked   # nothing read only on some path
    return {name for name in asked if name.startswith("LETHE_")}


def listeners(value: str) -> dict[str, tuple[str, int]]:
    """'PLAINTEXT://kafka-1:9092,CONTROLLER://:9093' → {'PLAINTEXT': ('kafka-1', 9092), ...}."""
    found = {}
    for item in value.split(","):
        name, _, address = item.strip().partition("://")
        host, _, port = address.rpartition(":")
        found[name] = (host, int(port))
    return found


def container_ports(service: dict[str, Any]) -> set[int]:
    ports = set()
    for mapping in service.get("ports", []):
        target = mapping["target"] if isinstance(mapping, dict) else str(mapping).split("/")[0].split(":")[-1]
        ports.add(int(target))
    return ports


def volume_mounts(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(type, source, target) of each mount; type is bind or volume."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts.append((volume["type"], volume.get("source", ""), volume["target"]))
            continue
        source, _, rest = str(volume).partition(":")
        target = rest.split(":")[0]
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        mounts.append((kind, source, target))
    return mounts


def mount_source(service: dict[str, Any], target: str) -> Path:
    sources = [s for kind, s, t in volume_mounts(service) if t == target and kind == "bind"]
    assert len(sources) == 1, f"expected one bind mount at {target}, found {sources}"
    return (REPO / sources[0]).resolve()


def option(cmd: list[str], flag: str) -> str | None:
    """The value given to ``flag`` in a command line (``--flag VALUE`` or ``--flag=VALUE``)."""
    for i, arg in enumerate(cmd):
        if arg == flag and i + 1 < len(cmd):
            return cmd[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def shipped_policy() -> Policy:
    """The policy the compose services load (their LETHE_POLICY, inside the image)."""
    [path] = {environment(s)["LETHE_POLICY"] for s in lethe_services().values()}
    return load_policy(Path(host_path(path, REPO)))


def partner_agents() -> dict[str, str]:
    """Store agent services reading a partner's commands topic: service -> its --commands-topic."""
    return {name: topic for name, s in lethe_services().items() if command(s)[:1] == ["store-agent"]
            and (topic := option(command(s), "--commands-topic") or "").startswith("partners.")}


def agent_of(partner: Partner) -> tuple[str, dict[str, Any]]:
    found = [(name, services()[name]) for name, topic in partner_agents().items() if topic == partner.commands_topic]
    assert len(found) == 1, f"partner {partner.name}: expected one store agent on {partner.commands_topic}, " \
                            f"found {[name for name, _ in found]}"
    return found[0]


def agent_mapping(service: dict[str, Any]) -> StoreMapping:
    path = option(command(service), "--mapping")
    assert path is not None, "a partner's agent names its own mapping (the default is the shop's)"
    return load_mapping(Path(host_path(path, REPO)))


def categories_received(policy: Policy, partner: Partner) -> set[str]:
    schema = json.loads((REPO / "schemas" / policy.sources[partner.source].schema).read_text())
    categories = {info.dotted: info.category for info in personal_fields(schema)}
    return {categories[path] for path in partner.fields if path in categories}


def postgres_init_sql() -> str:
    postgres = services()["postgres"]
    sources = [s for kind, s, t in volume_mounts(postgres) if kind == "bind" and t.startswith(POSTGRES_INIT + "/")]
    assert len(sources) == 1, f"expected one init script mounted into {POSTGRES_INIT}, found {sources}"
    return (REPO / sources[0]).read_text()


def init_databases(sql: str, default: str) -> dict[str, dict[str, Any]]:
    """What the init script makes per database: its owner, its tables (name -> columns)."""
    sql = re.sub(r"--[^\n]*", "", sql)
    databases: dict[str, dict[str, Any]] = {default: {"owner": None, "tables": {}}}
    for name, owner in re.findall(r"CREATE DATABASE (\w+)(?: OWNER (\w+))?", sql, re.IGNORECASE):
        databases[name] = {"owner": owner or None, "tables": {}}
    for chunk in re.split(r"^\\(?:connect|c) ", sql, flags=re.MULTILINE)[1:]:
        database, _, body = chunk.partition("\n")
        for table, columns in re.findall(r"CREATE TABLE (\w+) \((.*?)\);", body, re.IGNORECASE | re.DOTALL):
            databases[database.strip()]["tables"][table] = {
                line.split()[0] for line in columns.split(",") if line.strip() and line.split()[0].isidentifier()}
    return databases


def init_roles(sql: str) -> dict[str, str]:
    return dict(re.findall(r"CREATE ROLE (\w+) LOGIN PASSWORD '([^']*)'", sql, re.IGNORECASE))


def scrape_targets() -> dict[str, list[str]]:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    return {job["job_name"]: [t for static in job["static_configs"] for t in static["targets"]]
            for job in config["scrape_configs"]}


# -- compose: the Lethe services -----------------------------------------------------------------------

def test_compose_parses_and_has_the_production_services() -> None:
    found = services()
    assert {"kafka-1", "kafka-2", "kafka-3", "postgres", "prometheus", "grafana", "lethe-topics",
            "lethe-worker-1", "lethe-worker-2", "lethe-sink", "lethe-store-agent"} <= set(found)
    commands = {name: command(s) for name, s in lethe_services().items() if name not in partner_agents()}
    assert commands == {"lethe-topics": ["topics", "create"], "lethe-worker-1": ["run"], "lethe-worker-2": ["run"],
                        "lethe-sink": ["sink"], "lethe-store-agent": ["store-agent"]}
    for name, service in lethe_services().items():
        assert (REPO / service["build"]["context"] / service["build"]["dockerfile"]).is_file(), name
        assert service["build"]["context"] in (".", "./"), name   # the repository root


def test_compose_sets_only_variables_lethe_reads() -> None:
    read = lethe_variables_read()
    for name, service in lethe_services().items():
        names = set(environment(service))
        assert names, name
        assert names <= read, f"{name} sets {sorted(names - read)}, which Lethe does not read"
    for keyword, rest in dockerfile_instructions():
        if keyword == "ENV":
            names = set(re.findall(r"(LETHE_\w+)=", rest))
            assert names <= read, f"deploy/Dockerfile sets {sorted(names - read)}"


def test_compose_settings_are_valid_lethe_settings(tmp_path: Path) -> None:
    for name, service in lethe_services().items():
        settings = Settings.from_env(local_env(service, tmp_path))   # raises ConfigError on a bad value
        assert settings.bootstrap_servers == "kafka-1:9092,kafka-2:9092,kafka-3:9092", name
        assert settings.store_url.startswith("postgresql://"), name
        assert settings.replication_factor == 3, name
        assert settings.key_source == "LETHE_PSEUDONYM_KEY", name


def test_the_pseudonym_key_comes_from_the_shell_and_is_required() -> None:
    for name, service in lethe_services().items():
        raw = environment(service)["LETHE_PSEUDONYM_KEY"]
        assert re.fullmatch(r"\$\{LETHE_PSEUDONYM_KEY:\?[^}]+\}", raw), (name, raw)   # never a key in the file
        with pytest.raises(ConfigError, match="LETHE_PSEUDONYM_KEY"):
            interpolate(raw, {})
    assert interpolate("${A:-x}-${B}-$$", {"B": "b"}) == "x-b-$"


def test_lethe_services_share_one_deployment() -> None:
    """Same consumer group, key, topics and partitioning everywhere; partitions for every worker."""
    envs = {name: environment(service) for name, service in lethe_services().items()}
    for variable in ("LETHE_APP_ID", "LETHE_PSEUDONYM_KEY", "LETHE_BOOTSTRAP_SERVERS", "LETHE_PARTITIONS",
                     "LETHE_REPLICATION_FACTOR", "LETHE_STORE_URL", "LETHE_TOPIC_PREFIX", "LETHE_POLICY"):
        # a partner's agent stands for the partner's side: its own database
        values = {env.get(variable) for name, env in envs.items()
                  if variable != "LETHE_STORE_URL" or name not in partner_agents()}
        assert len(values) == 1, f"{variable} differs between Lethe services: {values}"
    workers = [name for name, service in lethe_services().items() if command(service) == ["run"]]
    assert len(workers) >= 2
    assert int(envs[workers[0]]["LETHE_PARTITIONS"]) >= len(workers)


def test_lethe_services_start_after_topics_and_database() -> None:
    found = services()
    topics = found["lethe-topics"]
    assert set(topics["depends_on"]) >= set(kafka_services())
    assert all(topics["depends_on"][k]["condition"] == "service_healthy" for k in kafka_services())
    for name, service in lethe_services().items():
        if name == "lethe-topics":
            continue
        assert service["depends_on"]["lethe-topics"]["condition"] == "service_completed_successfully", name
        assert "postgres" in service["depends_on"], name


def test_store_url_names_the_postgres_service() -> None:
    postgres = environment(services()["postgres"])
    url = f"postgresql://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/" \
          f"{postgres['POSTGRES_DB']}"
    for name, service in lethe_services().items():
        if name not in partner_agents():
            assert environment(service)["LETHE_STORE_URL"] == url, name


# -- compose: the partners' store agents ---------------------------------------------------------------

def test_every_partner_of_the_shipped_policy_has_a_store_agent() -> None:
    """An erasure of a subject shared with a partner waits for that partner's acks: without its agent
    in the stack, every such erasure would turn overdue."""
    policy = shipped_policy()
    assert policy.partners, "the shipped policy declares partners"
    agents = {}
    for partner in policy.partners.values():
        name, service = agent_of(partner)
        agents[name] = partner.commands_topic
        assert option(command(service), "--name") == partner.store, f"{name} acks under another store name"
        mapping = agent_mapping(service)
        family = policy.sources[partner.source].family
        assert mapping.for_family(family), f"{name}'s mapping has no table of {family}, the partner's source"
        mapped = {category for table in mapping.tables for category in table.columns.values()}
        received = categories_received(policy, partner)
        assert mapped <= received, f"{name} maps {sorted(mapped - received)}, which {partner.name} never receives"
        assert "depends_on" in service and "postgres" in service["depends_on"], name
        port = environment(service)["LETHE_METRICS_PORT"]
        assert f"{name}:{port}" in scrape_targets()["lethe-store-agent"], f"Prometheus does not scrape {name}"
    assert partner_agents() == agents, "a store agent reads the commands topic of a partner the policy lacks"


def test_each_partner_agent_has_its_own_database_made_by_the_postgres_init_script() -> None:
    postgres = environment(services()["postgres"])
    sql = postgres_init_sql()
    databases, roles = init_databases(sql, postgres["POSTGRES_DB"]), init_roles(sql)
    seen = set()
    for partner in shipped_policy().partners.values():
        name, service = agent_of(partner)
        url = re.fullmatch(r"postgresql://(\w+):([^@]*)@postgres:5432/(\w+)", environment(service)["LETHE_STORE_URL"])
        assert url, f"{name}: LETHE_STORE_URL is not a database of the postgres service"
        user, password, database = url.groups()
        assert database != postgres["POSTGRES_DB"] and database not in seen, f"{name} shares a database"
        seen.add(database)
        assert database in databases, f"{name}: the init script does not create database {database}"
        assert roles.get(user) == password or (user, password) == (postgres["POSTGRES_USER"],
                                                                     postgres["POSTGRES_PASSWORD"]), name
        assert databases[database]["owner"] in (user, None), f"{name}: {user} does not own {database}"
        for table in agent_mapping(service).tables:
            created = databases[database]["tables"].get(table.table)
            assert created is not None, f"{name}: table {table.table} is not created in {database}"
            wanted = {table.subject_column, *([table.key_column] if table.key_column else []), *table.columns}
            assert wanted <= created, f"{name}: {table.table} lacks {sorted(wanted - created)}"


def test_init_script_reading_finds_databases_owners_and_columns() -> None:
    sql = ("CREATE DATABASE p OWNER p;\n\\connect p\n-- a comment, (x)\n"
           "CREATE TABLE t (\n    a text PRIMARY KEY,\n    b numeric(12, 2)\n);\n")
    assert init_databases(sql, "lethe") == {"lethe": {"owner": None, "tables": {}},
                                            "p": {"owner": "p", "tables": {"t": {"a", "b"}}}}


# -- compose: Kafka ---------------------------------------------------------------------------------------

def test_three_kafka_brokers_in_kraft_mode_with_a_quorum_of_all_three() -> None:
    brokers = kafka_services()
    assert sorted(brokers) == ["kafka-1", "kafka-2", "kafka-3"]
    envs = {name: environment(service) for name, service in brokers.items()}
    node_ids = {name: env["KAFKA_NODE_ID"] for name, env in envs.items()}
    assert sorted(node_ids.values()) == ["1", "2", "3"]
    voters = set()
    for name, env in envs.items():
        assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}, name
        assert not any(k.startswith("KAFKA_ZOOKEEPER") for k in env), name
        controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
        voters.add(f"{node_ids[name]}@{name}:{listeners(env['KAFKA_LISTENERS'])[controller][1]}")
    for name, env in envs.items():
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters, name
    assert voters == {"1@kafka-1:9093", "2@kafka-2:9093", "3@kafka-3:9093"}


def test_kafka_brokers_share_a_cluster_id_and_replicate_internal_topics() -> None:
    envs = [environment(service) for service in kafka_services().values()]
    [cluster_id] = {env["CLUSTER_ID"] for env in envs}
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16   # what kafka-storage random-uuid makes
    for env in envs:
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3"
        assert int(env["KAFKA_MIN_INSYNC_REPLICAS"]) < 3      # one broker may be down
        assert set(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].replace(":", ",").split(",")) >= set(
            listeners(env["KAFKA_LISTENERS"]))


def test_lethe_bootstraps_from_every_broker_listener() -> None:
    advertised = set()
    for name, service in kafka_services().items():
        env = environment(service)
        host, port = listeners(env["KAFKA_ADVERTISED_LISTENERS"])[env["KAFKA_INTER_BROKER_LISTENER_NAME"]]
        assert host == name
        advertised.add(f"{host}:{port}")
    for name, service in lethe_services().items():
        servers = set(environment(service)["LETHE_BOOTSTRAP_SERVERS"].split(","))
        assert servers == advertised, name
        assert int(environment(service)["LETHE_REPLICATION_FACTOR"]) <= len(advertised), name


def test_host_ports_do_not_collide() -> None:
    published = [str(p).split(":")[0] for s in services().values() for p in s.get("ports", [])]
    assert len(published) == len(set(published)), published


# -- compose: images and mounts --------------------------------------------------------------------------------

def test_every_image_is_pinned_to_a_version() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    for name, service in services().items():
        image = service.get("image")
        if image is None:
            assert "build" in service, f"{name} has neither image nor build"
            continue
        if "@sha256:" in image:
            continue
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.match(r"v?\d", tag), f"{name}: {image} is not pinned to a version"
        if "build" in service:
            assert tag == version, f"{name}: {image} is not tagged with Lethe's version {version}"
    [base] = [rest for keyword, rest in dockerfile_instructions() if keyword == "FROM"]
    assert re.fullmatch(r"[\w./-]+:\d+\.\d+[\w.-]*", base), base


def test_every_bind_mount_exists_and_named_volumes_are_declared() -> None:
    declared = set(compose().get("volumes") or {})
    for name, service in services().items():
        for kind, source, target in volume_mounts(service):
            assert target.startswith("/"), (name, target)
            if kind == "bind":
                assert source.startswith("./"), f"{name}: {source} is not in the repository"
                assert (REPO / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"


def test_prometheus_loads_the_mounted_config_and_rules() -> None:
    prometheus = services()["prometheus"]
    flags = dict(arg.split("=", 1) for arg in command(prometheus) if "=" in arg)
    config_file = flags.get("--config.file", "/etc/prometheus/prometheus.yml")
    config_dir, _, config_name = config_file.rpartition("/")
    source = mount_source(prometheus, config_dir)
    assert source == PROMETHEUS_DIR
    config = yaml.safe_load((source / config_name).read_text())
    for rule_file in config["rule_files"]:
        assert (source / rule_file).is_file(), rule_file


# -- compose: metrics ------------------------------------------------------------------------------------------

def test_scrape_config_targets_the_metrics_port_of_each_service() -> None:
    found = services()
    jobs = scrape_targets()
    assert jobs["lethe-worker"] == ["lethe-worker-1:9108", "lethe-worker-2:9108"]
    assert jobs["lethe-store-agent"][0] == "lethe-store-agent:9108"
    assert sorted(jobs["lethe-store-agent"][1:]) == sorted(f"{name}:9108" for name in partner_agents())
    assert jobs["lethe-sink"] == ["lethe-sink:9108"]
    serving = {"lethe-worker": "run", "lethe-store-agent": "store-agent", "lethe-sink": "sink"}
    for job, targets in jobs.items():
        for target in targets:
            host, _, port = target.rpartition(":")
            assert host in found, f"{job} scrapes {target}, but there is no service {host}"
            assert command(found[host])[0] == serving[job], f"{target} does not run a {job}"
            assert environment(found[host])["LETHE_METRICS_PORT"] == port, target
            assert not container_ports(found[host]) or int(port) in container_ports(found[host]), target
            healthcheck = " ".join(found[host].get("healthcheck", {}).get("test", []))
            assert f":{port}/" in healthcheck, f"{host}'s health check does not ask its metrics port"
    # and every process that serves metrics is scraped
    scraped = {target.rpartition(":")[0] for targets in jobs.values() for target in targets}
    for name, service in lethe_services().items():
        if command(service)[0] in serving.values():
            assert name in scraped, f"{name} serves metrics that Prometheus does not scrape"


def test_the_image_exposes_the_metrics_port() -> None:
    exposed = {rest for keyword, rest in dockerfile_instructions() if keyword == "EXPOSE"}
    ports = {environment(s)["LETHE_METRICS_PORT"] for s in lethe_services().values()}
    assert ports <= exposed


# -- compose: Grafana ------------------------------------------------------------------------------------------

def test_grafana_provisioning_is_mounted_and_points_at_the_mounted_dashboards() -> None:
    found = services()
    grafana = found["grafana"]
    provisioning = mount_source(grafana, "/etc/grafana/provisioning")
    assert provisioning == REPO / "deploy" / "grafana" / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    for source in sources["datasources"]:
        host, _, port = source["url"].removeprefix("http://").rstrip("/").partition(":")
        assert host in found and found[host]["image"].startswith("prom/prometheus:"), source["url"]
        assert int(port) in container_ports(found[host]) | {9090}, source["url"]
    providers = yaml.safe_load((provisioning / "dashboards" / "lethe.yml").read_text())
    for provider in providers["providers"]:
        dashboards = mount_source(grafana, provider["options"]["path"])
        assert dashboards == REPO / "deploy" / "grafana" / "dashboards"
        assert (dashboards / "lethe.json").is_file()
    home = environment(grafana).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        directory, _, file = home.rpartition("/")
        assert (mount_source(grafana, directory) / file).is_file(), home


# -- the image's install step, for real (slow) ----------------------------------------------------------------

def build_context_copy(root: Path) -> None:
    """The files the Dockerfile's COPY lines put under WORKDIR, copied from the repository to ``root``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".lethe")
    for keyword, rest in dockerfile_instructions():
        if keyword != "COPY":
            continue
        *sources, destination = rest.split()
        assert not any(s.startswith("--") for s in sources), rest
        target = root / destination
        into_directory = len(sources) > 1 or destination.endswith("/")
        for source in sources:
            path = REPO / source
            assert path.exists(), f"deploy/Dockerfile copies {source}, which is not in the repository"
            if path.is_dir():   # Docker copies a directory's contents
                shutil.copytree(path, target, ignore=ignore, dirs_exist_ok=True)
            elif into_directory:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target / path.name)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)


@pytest.mark.timeout(240)
def test_slow_dockerfile_install_step_works_in_a_fresh_virtualenv(tmp_path: Path) -> None:
    """SLOW (about 20 s; needs the package index pip is configured with): the Dockerfile's RUN pip install,
    run in a new virtual environment on a copy of what the Dockerfile copies, gives a `lethe` that starts
    every compose command and accepts every Lethe service's settings with the image's file layout."""
    [base] = [rest for keyword, rest in dockerfile_instructions() if keyword == "FROM"]
    wanted = re.match(r"python:(\d+)\.(\d+)", base)
    assert wanted, base
    version = f"{wanted.group(1)}.{wanted.group(2)}"
    python = sys.executable if f"{sys.version_info[0]}.{sys.version_info[1]}" == version else \
        shutil.which(f"python{version}")
    assert python, f"the image uses Python {version}, which is not installed here"

    root = tmp_path / "image" / workdir().strip("/")
    root.mkdir(parents=True)
    build_context_copy(root)
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=60)

    [install] = [rest for keyword, rest in dockerfile_instructions()
                 if keyword == "RUN" and re.match(r"pip\d* install ", rest)]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LETHE_") and k not in ("PYTHONPATH", "PIP_NO_INDEX")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", VIRTUAL_ENV=str(venv))
    result = subprocess.run(["sh", "-c", install], cwd=root, env=env, capture_output=True, text=True, timeout=170)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    lethe = venv / "bin" / "lethe"
    result = subprocess.run([str(lethe), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and "usage: lethe" in result.stdout, result.stdout + result.stderr
    for name, service in lethe_services().items():
        result = subprocess.run([str(lethe), *command(service), "--help"], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{name}: lethe {' '.join(command(service))}: {result.stderr}"

    # the installed package reads the image's files (policy, schemas, store mapping) from the copied context
    check = ("from streams.settings import REPO_ROOT, Settings; s = Settings.from_env(); "
             "assert s.policy_path.is_file() and s.schemas_dir.is_dir(), s; "
             "assert (REPO_ROOT / 'deploy' / 'store-mapping.toml').is_file(); "
             "import psycopg2, rocksdict; print(REPO_ROOT)")
    for name, service in lethe_services().items():
        service_env = dict(env, **local_env(service, tmp_path, root))
        result = subprocess.run([str(venv / "bin" / "python"), "-c", check], cwd=tmp_path, env=service_env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
        assert Path(result.stdout.strip()) == root, result.stdout
