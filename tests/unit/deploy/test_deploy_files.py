"""deploy/: the compose file, ClickHouse/Keeper configs, systemd units and the Dockerfile
agree with each other and with posguard's own CLI and settings.

`docker compose config` runs where the docker client has its compose plugin; elsewhere that
one test is skipped with the reason. The structural checks below run everywhere.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from posguard.console.cli import build_parser
from posguard.console.settings import load_settings

yaml = pytest.importorskip("yaml", reason="PyYAML (a schemathesis dependency) reads compose")

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
COMPOSE = DEPLOY / "compose" / "docker-compose.yml"
CH = DEPLOY / "compose" / "clickhouse"
SYSTEMD = DEPLOY / "systemd"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=False)


def _dotenv() -> dict[str, str]:
    out = {}
    for line in (COMPOSE.parent / ".env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            k, _, v = line.partition("=")
            out[k] = v
    return out


def _interpolate(text: str) -> str:
    """Compose's `${VAR:-default}` with the values of deploy/compose/.env."""
    env = _dotenv()
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m[1], m[2]), text)


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(COMPOSE.read_text())


def _xml(path: Path) -> etree._Element:
    text = path.read_bytes()
    assert b"<!DOCTYPE" not in text
    return etree.fromstring(text, _PARSER)


def _compose_command() -> list[str] | str:
    """The compose CLI, or why there is none."""
    docker = shutil.which("docker")
    if docker:
        p = subprocess.run([docker, "compose", "version"], capture_output=True, text=True,
                           timeout=30)
        if p.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    if docker:
        return "the docker client here has no compose plugin (`docker compose` unknown)"
    return "no docker client here"


def test_docker_compose_config_validates() -> None:
    cmd = _compose_command()
    if isinstance(cmd, str):
        pytest.skip(cmd)
    p = subprocess.run([*cmd, "-f", str(COMPOSE), "config", "--quiet"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_compose_has_the_whole_stack() -> None:
    services = _compose()["services"]
    assert {"kafka1", "kafka2", "kafka3"} <= set(services)
    assert {"keeper1", "keeper2", "keeper3"} <= set(services)
    assert {"ch-s1-r1", "ch-s1-r2", "ch-s2-r1", "ch-s2-r2"} <= set(services)
    assert {"db-init", "worker", "ingest", "console", "scripts"} <= set(services)
    assert str(services["worker"]["deploy"]["replicas"]).startswith("${POSGUARD_WORKERS")


def test_kafka_is_a_three_node_kraft_quorum() -> None:
    services = _compose()["services"]
    ids = set()
    for n in ("kafka1", "kafka2", "kafka3"):
        env = services[n]["environment"]
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == (
            "1@kafka1:9093,2@kafka2:9093,3@kafka3:9093")
        assert int(env["KAFKA_MIN_INSYNC_REPLICAS"]) == 2
        assert f"PLAINTEXT://{n}:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
        ids.add(env["KAFKA_NODE_ID"])
    assert ids == {1, 2, 3}


def _posguard_services() -> dict[str, dict]:  # type: ignore[type-arg]
    return {k: v for k, v in _compose()["services"].items()
            if "posguard" in str(v.get("image", ""))}


def test_every_posguard_command_parses_with_the_real_cli() -> None:
    parser = build_parser()
    services = _posguard_services()
    assert set(services) == {"db-init", "worker", "ingest", "console", "scripts"}
    for name, svc in services.items():
        args = parser.parse_args([_interpolate(str(a)) for a in svc["command"]])
        assert getattr(args, "func", None), name
    for unit in SYSTEMD.glob("*.service"):
        ini = configparser.ConfigParser(interpolation=None, strict=False)
        ini.read(unit)
        argv = shlex.split(ini["Service"]["ExecStart"])
        assert argv[0].endswith("/bin/posguard"), unit.name
        args = parser.parse_args([a.replace("%i", "1") for a in argv[1:]])
        assert getattr(args, "func", None), unit.name


def test_compose_environment_is_valid_posguard_settings() -> None:
    for name, svc in _posguard_services().items():
        env = {k: _interpolate(str(v)) for k, v in svc["environment"].items()}
        env = {k: v for k, v in env.items() if k != "POSGUARD_CONFIG"}  # mounted in the box
        s = load_settings({}, environ=env)
        assert s.kafka == "kafka1:9092,kafka2:9092,kafka3:9092", name
        assert s.clickhouse.startswith(
            f"http://posguard:{_dotenv()['CLICKHOUSE_PASSWORD']}@ch-"), name
        assert s.partitions == 24 and s.replication == 3


def test_systemd_env_file_is_valid_posguard_settings() -> None:
    env = {}
    for line in (SYSTEMD / "posguard.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            k, _, v = line.partition("=")
            env[k] = v
    env.pop("POSGUARD_CONFIG")
    s = load_settings({}, environ=env)
    assert s.kafka and s.clickhouse.startswith("https://") and s.replication == 3


def test_posguard_toml_is_a_valid_ingest_config() -> None:
    from posguard.ingest.files import load_ingest_config

    cfg = load_ingest_config(DEPLOY / "compose" / "posguard.toml")
    assert cfg is not None


def test_cluster_config_matches_macros_and_the_db_init_cluster() -> None:
    root = _xml(CH / "config.d" / "cluster.xml")
    shards = root.findall("remote_servers/posguard/shard")
    assert len(shards) == 2
    hosts = {}
    for i, shard in enumerate(shards, 1):
        assert shard.findtext("internal_replication") == "true"
        for r in shard.findall("replica"):
            hosts[r.findtext("host")] = f"0{i}"
    assert len(hosts) == 4
    assert [n.findtext("host") for n in root.findall("zookeeper/node")] == [
        "keeper1", "keeper2", "keeper3"]
    services = _compose()["services"]
    for host, shard in hosts.items():
        macros = _xml(CH / "macros" / f"{host}.xml").find("macros")
        assert macros.findtext("shard") == shard
        assert macros.findtext("replica") == host  # unique over the whole cluster
        assert macros.findtext("cluster") == "posguard"
        mounts = " ".join(services[host]["volumes"])
        assert f"macros/{host}.xml:" in mounts and "config.d/cluster.xml:" in mounts
    init = services["db-init"]["command"]
    assert init[init.index("--cluster") + 1] == "posguard"


def test_keeper_quorum_configs() -> None:
    for k in (1, 2, 3):
        ks = _xml(CH / "keeper" / f"keeper{k}.xml").find("keeper_server")
        assert ks.findtext("server_id") == str(k)
        assert [s.findtext("hostname") for s in ks.findall("raft_configuration/server")] == [
            "keeper1", "keeper2", "keeper3"]


def test_users_profile_makes_distributed_inserts_synchronous() -> None:
    root = _xml(CH / "users.d" / "posguard.xml")
    assert root.findtext("profiles/posguard/insert_distributed_sync") == "1"
    assert root.find("users/posguard/password").get("from_env") == "CLICKHOUSE_PASSWORD"


def test_systemd_units_verify() -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("no systemd-analyze here")
    import tempfile

    posguard_bin = shutil.which("true") or "/bin/true"  # an executable in place of the venv's
    with tempfile.TemporaryDirectory() as tmp:
        names = []
        for unit in [*SYSTEMD.glob("*.service"), *SYSTEMD.glob("*.target")]:
            text = unit.read_text().replace("/opt/posguard/venv/bin/posguard", str(posguard_bin))
            name = unit.name.replace("@.", "@1.")
            (Path(tmp) / name).write_text(text)
            names.append(f"./{name}")
        p = subprocess.run([analyze, "verify", "--man=no", *names], capture_output=True,
                           text=True, timeout=60, cwd=tmp)
    assert p.returncode == 0 and not p.stderr.strip(), p.stderr


def test_dockerfile_installs_the_project_and_runs_posguard() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert "COPY pyproject.toml" in text and "COPY posguard ./posguard" in text
    assert "pip install ." in text
    assert 'ENTRYPOINT ["posguard"]' in text
    assert "USER posguard" in text
