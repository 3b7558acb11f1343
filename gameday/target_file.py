"""A target file: the stack a user already runs, as the harness may reach and disturb it.

``gameday run --target staging.yaml scenario.yaml`` grades that stack instead of starting one. The
file names the OMS instances' HTTP endpoints, the venue's admin API (the ledger of truth) or asks the
harness to run our venue for each run (``venue.run``), where the user has them NATS, the database and
a deployer, the Toxiproxy API and the proxies the user wired for each hop, and per service how process
faults reach it: a local PID, a Docker container or command templates.
A target never gets more power than its file gives: commands run only from this file, and every
endpoint must be on loopback unless the user allows remote ones (``--allow-remote``). An OMS whose
HTTP API differs from the contract is reached through the adapter ``oms.adapter`` names, loaded only
from this file (:mod:`gameday.oms_api_loader`).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from gameday.errors import ScenarioProblem, TargetFileError
from gameday.faults.schedule import fault_id
from gameday.loopback import is_loopback_address
from gameday.oms_api_routes import OmsOp
from gameday.scenario.actions import DeployAction, KillSwitchAction, RestartAction, RollbackAction
from gameday.scenario.explain import problems_from_validation
from gameday.scenario.faults import KillFault, PauseFault
from gameday.scenario.loader import compose_yaml, repeated_keys
from gameday.scenario.locate import locate
from gameday.scenario.metrics_gaps import metrics_gaps
from gameday.scenario.model import Scenario
from gameday.scenario.source import read_source
from mock_exchange.config import SymbolConfig

if TYPE_CHECKING:  # the HTTP machinery loads only when a run or a check reaches the OMS
    from gameday.oms_api import OmsApi

__all__ = ["AdapterSpec", "CommandSet", "DeployerSpec", "ServiceAccess", "TargetFile", "VenueRunSpec",
           "load_target_file", "scenario_gaps"]



class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommandSet(_Spec):
    """Command templates the harness runs (no shell: wrap in ``sh -c '…'`` for one). ``{service}``
    and ``{signal}`` (e.g. ``SIGKILL``) are filled in."""

    kill: str | None = None
    pause: str | None = None
    resume: str | None = None
    restart: str | None = None
    timeout_s: float = Field(default=30.0, gt=0, le=600)

    @field_validator("kill", "pause", "resume", "restart")
    @classmethod
    def _splits(cls, template: str | None) -> str | None:
        if template is not None:
            try:
                words = shlex.split(template)
            except ValueError as error:
                raise ValueError(f"expected a command line shlex can split: {error}") from None
            if not words:
                raise ValueError("expected a command, got an empty one")
        return template


class ServiceAccess(_Spec):
    """How process faults reach one service: exactly one of ``pid``, ``pid_file``, ``container`` or
    ``commands``."""

    pid: int | None = Field(default=None, gt=1)
    pid_file: Path | None = None
    container: str | None = Field(default=None, min_length=1)
    commands: CommandSet | None = None

    @model_validator(mode="after")
    def _one_way(self) -> ServiceAccess:
        ways = ("pid", "pid_file", "container", "commands")
        given = [name for name in ways if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"expected exactly one of pid, pid_file, container or commands, got "
                             f"{', '.join(given) or 'none'}")
        return self

    def can(self, what: Literal["kill", "pause", "resume", "restart"]) -> bool:
        if self.commands is not None:
            return getattr(self.commands, what) is not None
        return what != "restart" or self.container is not None


class AdapterSpec(_Spec):
    """How the harness speaks to an OMS whose HTTP API is not the contract's (docs/targets.md)."""

    module: str | None = Field(default=None, min_length=1)
    """A Python file (``*.py``, relative to the target file) or an importable module."""
    class_: str | None = Field(default=None, alias="class", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """The class in ``module``: a subclass of ``gameday.oms_api.ContractApi``."""
    options: dict[str, Any] = {}
    """Keyword arguments of the class's constructor."""
    routes: dict[OmsOp, str] = {}
    """Operation → ``"METHOD /path"``: renamed routes (of ``class``, or of the contract's own API);
    checked when the adapter is built, each at its own key."""

    @model_validator(mode="after")
    def _class_with_module(self) -> AdapterSpec:
        if (self.module is None) != (self.class_ is None):
            raise ValueError("expected module and class together (or neither, for routes alone)")
        if self.options and self.class_ is None:
            raise ValueError("expected options only with a class to pass them to")
        if self.class_ is None and not self.routes:
            raise ValueError("expected module and class, or routes")
        return self


class OmsSpec(_Spec):
    instances: dict[str, str] = Field(min_length=1)
    """Instance name (as scenarios name it) → base URL of its HTTP API."""
    admin_token: str | None = None
    admin_token_env: str | None = None
    """The environment variable that holds the admin token (keeps secrets out of the file)."""
    adapter: AdapterSpec | None = None
    """The instances' API when it is not the contract's."""


FixedPort = Annotated[int, Field(ge=1, le=65535)]
SenderCompId = Annotated[str, Field(min_length=1, pattern=r"^[!-~]+$")]


class VenueRunSpec(_Spec):
    """Our venue (``mock_exchange``), started by the harness for each run on the ports the user's OMS is
    configured to reach and stopped when the run ends (:mod:`gameday.stack.run_venue`). Each field
    given overrides ``config``'s; the ledger (in the run directory), the admin token (fresh per run)
    and the seed (the scenario's) are always the harness's."""

    fix_port: FixedPort | None = None
    """Where the OMS's FIX sessions connect."""
    admin_port: int | None = Field(default=None, ge=0, le=65535)
    """The admin API's port; 0 (the default) = any free one, read from the venue's READY line."""
    ws_port: FixedPort | None = None
    """The WebSocket API's port, for an OMS that trades over it."""
    sessions: tuple[SenderCompId, ...] | None = None
    """The SenderCompIDs the OMS logs on with."""
    accept_any_session: bool | None = None
    symbols: tuple[str | SymbolConfig, ...] | None = Field(default=None, min_length=1)
    """Symbol names (starting at the harness's reference price) or ``mock_exchange`` SymbolConfigs;
    else ``config``'s, else the scenario's workload symbols."""
    config: Path | None = None
    """A ``mock_exchange`` VenueConfig JSON file (relative to the target file)."""
    _config_data: dict[str, Any] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _distinct_ports(self) -> VenueRunSpec:
        ports = [port for port in (self.fix_port, self.ws_port, self.admin_port) if port]
        if len(set(ports)) != len(ports):
            raise ValueError(f"expected fix_port, ws_port and admin_port to differ, got {ports}")
        return self

    @property
    def config_data(self) -> dict[str, Any]:
        """``config``'s VenueConfig fields as :func:`load_target_file` read them (``{}``: no config)."""
        if self.config is None:
            return {}
        if self._config_data is None:
            raise RuntimeError("venue.run.config is read by load_target_file")
        return self._config_data


class VenueSpec(_Spec):
    """Exactly one of ``admin_url`` (a venue already running) and ``run`` (the harness runs ours)."""

    admin_url: str | None = None
    """An already running ``mock_exchange``'s admin API: the ledger of truth, exchange faults."""
    run: VenueRunSpec | None = None
    """Our venue, run by the harness for each run."""
    admin_token: str | None = Field(default=None, repr=False)
    """The bearer token the venue's admin API requires (its ``admin_token``), if it requires one."""
    admin_token_env: str | None = None
    """The environment variable that holds it (keeps secrets out of the file)."""

    @model_validator(mode="after")
    def _one_venue(self) -> VenueSpec:
        if (self.admin_url is None) == (self.run is None):
            raise ValueError(f"expected admin_url (a venue already running) or run (the harness runs ours), "
                             f"got {'both' if self.run is not None else 'neither'}")
        if self.run is not None and (self.admin_token is not None or self.admin_token_env is not None):
            raise ValueError("expected no admin_token or admin_token_env with run, got one: the harness "
                             "makes a fresh admin token for each run of the venue it runs")
        return self


class DeployerSpec(_Spec):
    url: str
    """The deployer's base URL: ``deploy``/``rollback`` actions go there (with the OMS admin token)."""


class NatsSpec(_Spec):
    url: str
    subject_prefixes: tuple[str, ...] = ("oms",)


class DatabaseSpec(_Spec):
    dsn: str


class ToxiproxySpec(_Spec):
    url: str
    proxies: dict[str, str] = {}
    """Hop as scenarios name it (``oms-primary->exchange``) → the name of the proxy the user wired."""
    token: str | None = Field(default=None, repr=False)
    """The API's bearer token, for a ``gameday.proxy`` started with one (real Toxiproxy has none)."""
    token_env: str | None = None
    """The environment variable that holds it (keeps secrets out of the file)."""


def _metrics_urls(urls: dict[str, str]) -> dict[str, str]:
    bad = sorted(service for service, url in urls.items() if not url.startswith(("http://", "https://")))
    if bad:
        raise ValueError(f"expected http:// or https:// URLs of each service's Prometheus metrics, got "
                         f"{', '.join(f'{service}: {urls[service]!r}' for service in bad)}")
    return urls


def _log_paths(paths: dict[str, str]) -> dict[str, str]:
    empty = sorted(service for service, path in paths.items() if not path.strip())
    if empty:
        raise ValueError(f"expected a path or a glob of each service's log file, got an empty one for "
                         f"{', '.join(empty)}")
    return paths


ServiceName = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class TargetFile(_Spec):
    name: str = Field(min_length=1)
    oms: OmsSpec
    venue: VenueSpec
    nats: NatsSpec | None = None
    database: DatabaseSpec | None = None
    toxiproxy: ToxiproxySpec | None = None
    deployer: DeployerSpec | None = None
    services: dict[str, ServiceAccess] = {}
    metrics: Annotated[dict[ServiceName, str], AfterValidator(_metrics_urls)] = {}
    """Service → the URL of its Prometheus metrics (scraped at the probe interval); a service not
    named is not scraped."""
    logs: Annotated[dict[ServiceName, str], AfterValidator(_log_paths)] = {}
    """Service → its log file, a path or a glob (relative to the target file); copied into the run
    directory after the run for the report's order trails."""
    _oms_api: OmsApi | None = PrivateAttr(default=None)

    @property
    def oms_api(self) -> OmsApi:
        """The API the harness speaks to the instances: the adapter :func:`load_target_file` loaded,
        else the contract's (a file validated some other way may rename routes, not load code)."""
        if self._oms_api is not None:
            return self._oms_api
        from gameday.oms_api import DEFAULT_API
        from gameday.oms_api_loader import build_adapter

        adapter = self.oms.adapter
        if adapter is None:
            return DEFAULT_API
        if adapter.module is not None:
            raise RuntimeError(f"target {self.name}: oms.adapter is loaded by load_target_file")
        self._oms_api = build_adapter(None, None, {}, adapter.routes, base_dir=Path.cwd())
        return self._oms_api

    def endpoints(self) -> dict[str, str]:
        """Every address the harness would reach, by the YAML path that gives it."""
        found = {f"oms.instances.{name}": url for name, url in self.oms.instances.items()}
        for path, spec in (("venue.admin_url", self.venue), ("nats.url", self.nats),
                           ("database.dsn", self.database), ("toxiproxy.url", self.toxiproxy),
                           ("deployer.url", self.deployer)):
            address = None if spec is None else getattr(spec, path.split(".")[1])
            if address is not None:  # a venue the harness runs is on loopback by construction
                found[path] = address
        found.update({f"metrics.{service}": url for service, url in self.metrics.items()})
        return found


def load_target_file(path: Path | str, *, allow_remote: bool = False) -> TargetFile:
    """Read and validate a target file; every endpoint on loopback unless ``allow_remote``."""
    file = str(path)
    text = read_source(path, file=file, error=TargetFileError)  # a regular file, bounded, UTF-8
    root, data = compose_yaml(text, file, TargetFileError)
    if root is None or not isinstance(data, dict):
        raise _whole_file(file, "expected a mapping with name, oms, venue, and optionally nats, database, "
                                "toxiproxy, deployer, services")
    problems = repeated_keys(root, file, [])
    target: TargetFile | None = None
    try:
        target = TargetFile.model_validate(data)
    except ValidationError as error:
        problems.extend(problems_from_validation(error, root, file, TargetFile))
    if target is not None and not allow_remote:
        problems.extend(ScenarioProblem(file, None, where, f"{address!r} is not on loopback; the harness "
                                        f"reaches other hosts only with --allow-remote")
                        for where, address in target.endpoints().items() if not is_loopback_address(address))
    if target is not None and target.logs:
        base = Path(path).parent
        logs = {service: str(base / log) for service, log in target.logs.items()}
        target = target.model_copy(update={"logs": logs})
    if target is not None and target.venue.run is not None and not problems:
        problems.extend(_load_venue_run(target.venue.run, root, file, Path(path).parent))
    if target is not None and target.oms.adapter is not None and not problems:
        problems.extend(_load_adapter(target, root, file, Path(path).parent))
    if problems or target is None:
        raise TargetFileError(file, problems)
    return target


def _load_adapter(target: TargetFile, root: yaml.Node, file: str, base_dir: Path) -> list[ScenarioProblem]:
    """Load the adapter ``oms.adapter`` names into ``target``; what went wrong, located, if it fails."""
    from gameday.oms_api_loader import AdapterError, build_adapter

    adapter = target.oms.adapter
    assert adapter is not None
    try:
        target._oms_api = build_adapter(adapter.module, adapter.class_, adapter.options, adapter.routes,
                                        base_dir=base_dir)
    except AdapterError as error:
        located = locate(root, ("oms", "adapter", *error.where))
        return [ScenarioProblem(file, located.line, located.yaml_path, str(error))]
    return []


def _load_venue_run(spec: VenueRunSpec, root: yaml.Node, file: str, base_dir: Path) -> list[ScenarioProblem]:
    """Read ``venue.run.config`` into ``spec`` and check the venue it describes; what is wrong, located."""
    from gameday.stack.run_venue import VenueRunError, check_venue_run, read_venue_config

    try:
        if spec.config is not None:
            spec._config_data = read_venue_config(spec.config if spec.config.is_absolute()
                                                  else base_dir / spec.config)
        check_venue_run(spec)
    except VenueRunError as error:
        located = locate(root, ("venue", "run", *error.where))
        return [ScenarioProblem(file, located.line, located.yaml_path, str(error))]
    return []


def _whole_file(file: str, message: str) -> TargetFileError:
    return TargetFileError(file, [ScenarioProblem(file, None, "", message)])


def scenario_gaps(target: TargetFile, scenario: Scenario) -> list[str]:
    """What the scenario asks that the target file gives no way to do, one sentence each."""
    gaps: list[str] = []
    if scenario.stack.defects:
        gaps.append(f"scenario switches on defects ({', '.join(scenario.stack.defects)}): a stack reached "
                    f"through a target file runs as it is (stack.defects)")
    for index, fault in enumerate(scenario.timeline):
        label = fault.id or fault_id(index, fault)
        if isinstance(fault, KillFault | PauseFault):
            access = target.services.get(fault.target)
            needs: tuple[Literal["kill", "pause", "resume"], ...] = (
                ("kill",) if isinstance(fault, KillFault) else ("pause", "resume"))
            missing = [what for what in needs if access is None or not access.can(what)]
            verb = "kills" if isinstance(fault, KillFault) else "pauses"
            if missing:
                gaps.append(f"scenario {verb} {fault.target} (fault {label}): the target gives no way to "
                            f"{' or '.join(missing)} it (services.{fault.target})")
        elif (proxy := getattr(fault, "proxy", None)) is not None and (
                target.toxiproxy is None or proxy not in target.toxiproxy.proxies):
            gaps.append(f"fault {label} disturbs hop {proxy}: the target wires no proxy for it "
                        f"(toxiproxy.proxies)")
    gaps.extend(_action_gaps(target, scenario))
    gaps.extend(metrics_gaps(target.metrics, scenario))
    return gaps


def _action_gaps(target: TargetFile, scenario: Scenario) -> list[str]:
    gaps: list[str] = []
    for action in scenario.actions:
        if isinstance(action, RestartAction):
            access = target.services.get(action.target)
            if access is None or not access.can("restart"):
                gaps.append(f"scenario restarts {action.target}: the target gives no way to restart it "
                            f"(services.{action.target}: a container or commands.restart)")
        elif isinstance(action, DeployAction | RollbackAction) and target.deployer is None:
            gaps.append(f"scenario asks for a {action.action}: the target names no deployer (deployer.url)")
        elif isinstance(action, KillSwitchAction) and action.target not in target.oms.instances:
            gaps.append(f"scenario trips the kill switch of {action.target}: the target has no such OMS "
                        f"instance (oms.instances)")
    return gaps
