"""``tetragon-controller``: applies the policy directory and the drop-in configuration to a
running agent, live.

It reads the same settings as the agent (every drop-in directory, the YAML file,
``TETRAGON_*`` variables and the same ``--flags``) to find the policy directory, the
drop-in directories and the agent's ``server-address``; watches them with watchdog
(recursively for policies); waits for each changed path to be quiet for ``--debounce-ms``
(editors write a temporary file and rename it, shells truncate and write); then applies the
change through the agent's gRPC API (see :mod:`controller.policies` and
:mod:`controller.config`). It detects Kubernetes, Docker or plain Linux at start and tells
the agent which metadata source to use (:mod:`controller.environment`).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger("tetragon.controller")

TICK = 1.0  # seconds between agent checks and watch refreshes
FULL_SYNC = 30.0  # seconds between full reconciliations of the policy directory
DEFAULT_STATE_FILE = "/run/tetragon/controller-state.json"
_MISSING_YAML = "/nonexistent/tetragon.yaml"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tetragon-controller",
        usage="%(prog)s [controller flags] [tetragon setting flags]",
        description="Watches the tracing policy directory and the drop-in configuration and "
        "applies every change to the running agent over its gRPC API. Takes every setting "
        "flag of tetragon as well (--tracing-policy-dir, --config-dir, --server-address...), "
        "read with the same precedence as the agent.",
        allow_abbrev=False,
    )
    p.add_argument(
        "--agent-restart-cmd",
        default=None,
        metavar="CMD",
        help="command restarting the agent for settings that cannot change live "
        "(default: 'supervisorctl restart tetragon' under supervisord, else none: the "
        "controller logs that a restart is needed)",
    )
    p.add_argument(
        "--controller-metrics",
        default="",
        metavar="ADDR",
        help="serve the controller's Prometheus metrics on ADDR (e.g. ':2113'). Off if empty",
    )
    p.add_argument(
        "--debounce-ms",
        type=int,
        default=150,
        metavar="MS",
        help="quiet period after the last event on a path before it is applied (default 150)",
    )
    p.add_argument(
        "--state-file",
        default=DEFAULT_STATE_FILE,
        metavar="PATH",
        help="where the controller remembers the policies it added (default %(default)s); "
        "empty: nowhere",
    )
    return p


@dataclass(frozen=True)
class WatchSpec:
    path: str
    recursive: bool
    kind: str  # "policy" or "config"
    names: frozenset[str] = frozenset()  # only these entry names (empty: all)


class Watches:
    """Keeps watchdog watches on directories that may appear, vanish or be replaced."""

    def __init__(self, on_event: Callable[[WatchSpec, list[str]], None]):
        from watchdog.observers import Observer

        self.observer = Observer()
        self.on_event = on_event
        self.wanted: list[WatchSpec] = []
        self.armed: dict[WatchSpec, tuple[object, tuple[int, int]]] = {}
        self._gone: set[WatchSpec] = set()  # watched directories deleted or moved away
        self._lock = threading.Lock()
        self.observer.start()

    def _mark_gone(self, spec: WatchSpec) -> None:
        with self._lock:
            self._gone.add(spec)

    def want(self, specs: Sequence[WatchSpec]) -> list[WatchSpec]:
        self.wanted = list(dict.fromkeys(specs))
        return self.refresh()

    def refresh(self) -> list[WatchSpec]:
        """Arm the wanted watches whose directory exists; the newly armed ones."""
        new: list[WatchSpec] = []
        with self._lock:
            gone, self._gone = self._gone, set()
        for spec in list(self.armed):
            ident = _ident(spec.path)
            # a directory replaced by a new one may get the same inode: the deletion
            # event of the old one tells
            if spec not in self.wanted or ident != self.armed[spec][1] or spec in gone:
                self._disarm(spec)
        for spec in self.wanted:
            if spec in self.armed:
                continue
            ident = _ident(spec.path)
            if ident is None:
                continue
            try:
                watch = self.observer.schedule(
                    _Handler(spec, self.on_event, self._mark_gone),
                    spec.path,
                    recursive=spec.recursive,
                )
            except OSError as e:
                log.warning("cannot watch %s: %s", spec.path, e)
                continue
            self.armed[spec] = (watch, ident)
            log.info("watching %s%s", spec.path, " (recursive)" if spec.recursive else "")
            new.append(spec)
        return new

    def _disarm(self, spec: WatchSpec) -> None:
        watch, _ = self.armed.pop(spec)
        try:
            self.observer.unschedule(watch)
        except Exception:  # the emitter may be gone already with its directory
            pass

    def close(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=5)


def _ident(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not os.path.isdir(path):
        return None
    return (st.st_dev, st.st_ino)


def _handler_base():
    from watchdog.events import FileSystemEventHandler

    return FileSystemEventHandler


class _Handler(_handler_base()):  # type: ignore[misc]
    _IGNORED = frozenset({"opened", "closed_no_write"})

    def __init__(self, spec: WatchSpec, sink, gone):
        super().__init__()
        self.spec = spec
        self.sink = sink
        self.gone = gone

    def on_any_event(self, event) -> None:
        if event.event_type in self._IGNORED:
            return
        if event.is_directory and event.event_type == "modified":
            return
        paths = [os.fsdecode(event.src_path)]
        if paths[0] == self.spec.path and event.event_type in ("deleted", "moved"):
            self.gone(self.spec)
        dest = getattr(event, "dest_path", "")
        if dest:
            paths.append(os.fsdecode(dest))
        if self.spec.names:
            paths = [p for p in paths if os.path.basename(p) in self.spec.names]
            if not paths:
                return
        self.sink(self.spec, paths)


class Controller:
    def __init__(self, opts: argparse.Namespace, settings_argv: list[str], environ=None):
        from appliance.settings import config_locations
        from controller.config import ConfigSync, default_restart_command
        from controller.debounce import Debouncer
        from controller.metrics import Metrics

        self.opts = opts
        self.environ = dict(os.environ if environ is None else environ)
        self.locations = config_locations(self.environ)
        self.metrics = Metrics()
        self.debouncer = Debouncer(max(0, opts.debounce_ms) / 1000.0)
        restart = opts.agent_restart_cmd
        if restart is None:
            restart = default_restart_command(self.environ)
        self.client = None
        self.config = ConfigSync(
            settings_argv, self.environ, self.locations, _LazyClient(self), self.metrics, restart
        )
        self.policies = None
        self.watches: Watches | None = None
        self.environment = None
        self.agent_pid = 0
        self.agent_start = 0.0
        self.agent_down_logged = False
        self.resync_policies = False
        self.last_full_sync = 0.0
        self.k8s = None  # controller.kubernetes.PolicyResources when the API is used
        self._stop = threading.Event()

    # -- helpers ---------------------------------------------------------------------------
    @property
    def settings(self):
        return self.config.loaded.settings if self.config.loaded is not None else None

    def _connect(self, address: str) -> None:
        from controller.client import AgentClient

        if self.client is not None and self.client.address == address:
            return
        if self.client is not None:
            self.client.close()
        self.client = AgentClient(address)
        log.info("agent API at %s", address)

    def _bootstrap_address(self) -> str:
        """The agent's address when the configuration does not parse: flags, environment."""
        from appliance.errors import SettingsError
        from appliance.settings import Settings, load_settings

        try:
            s = load_settings(
                self.config.argv, self.environ, system_dirs=(), yaml_file=_MISSING_YAML
            ).settings
        except SettingsError:
            s = Settings()
        return s.server_address

    def watch_specs(self, error_source: str = "") -> list[WatchSpec]:
        specs: list[WatchSpec] = []
        loaded = self.config.loaded
        dirs = list(loaded.dirs) if loaded is not None else list(self.locations["system_dirs"])
        if error_source and os.path.isfile(error_source):
            dirs.append(os.path.dirname(error_source))
        for d in dirs:
            specs.append(WatchSpec(os.path.abspath(d), False, "config"))
        yaml_file = self.locations["yaml_file"]
        names = {os.path.basename(yaml_file)} | {os.path.basename(d) for d in dirs}
        specs.append(
            WatchSpec(
                os.path.dirname(os.path.abspath(yaml_file)), False, "config", frozenset(names)
            )
        )
        if self.settings is not None and self.settings.tracing_policy_dir:
            specs.append(
                WatchSpec(os.path.abspath(self.settings.tracing_policy_dir), True, "policy")
            )
        return specs

    def _on_event(self, spec: WatchSpec, paths: list[str]) -> None:
        if spec.kind == "policy":
            for p in paths:
                self.debouncer.touch(("policy", p))
        else:
            self.debouncer.touch(("config", ""))

    # -- environment -------------------------------------------------------------------
    def detect_environment(self) -> None:
        from controller.environment import detect

        s = self.settings
        setting = s.metadata_source if s is not None else "auto"
        source = self.config.loaded.sources.get("metadata_source", "") if s is not None else ""
        env = detect(setting, source, environ=self.environ)
        self.environment = env
        log.info("%s", env.describe())
        self.metrics.environment.clear()
        self.metrics.environment.labels(env.kind, env.metadata_source).set(1)

    def send_environment(self) -> None:
        from appliance.errors import AgentRefused, AgentUnavailable

        env = self.environment
        if env is None or self.client is None:
            return
        s = self.settings
        explicit = s is not None and s.metadata_source != "auto"
        source = (
            self.config.loaded.sources.get("metadata_source", "settings")
            if explicit
            else f"environment detection ({env.kind})"
        )
        try:
            resp = self.client.apply_settings(
                {"metadata-source": env.metadata_source},
                source="tetragon-controller",
                sources={"metadata-source": source},
            )
        except AgentUnavailable:
            self.agent_pid = 0  # sent again when the agent answers
            return
        except AgentRefused as e:
            log.error("the agent refused metadata-source=%s: %s", env.metadata_source, e)
            self.metrics.error("settings_rejected")
            return
        if resp.error:
            log.error("the agent refused metadata-source=%s: %s", env.metadata_source, resp.error)
            self.metrics.error("settings_rejected")

    # -- the agent -----------------------------------------------------------------------
    def check_agent(self) -> bool:
        """Poll the agent; on a new agent process, bring it up to date. Whether it answers."""
        from appliance.errors import AgentRefused, AgentUnavailable

        if self.client is None:
            return False
        try:
            st = self.client.status()
        except (AgentUnavailable, AgentRefused) as e:
            if not self.agent_down_logged:
                log.warning("agent at %s does not answer (%s); waiting", self.client.address, e)
                self.agent_down_logged = True
            return False
        if self.agent_down_logged:
            log.info("agent answers again")
            self.agent_down_logged = False
        if st.pid != self.agent_pid:
            self.agent_pid = st.pid
            self.agent_start = st.start_time.ToNanoseconds() / 1e9
            self.send_environment()
            if self.config.current_error:
                self.client.report_error(self.config.current_error)
            log.info(
                "agent pid %d, policy engine %s", st.pid, "on" if st.policies_enabled else "off"
            )
            self.resync_policies = True
            if self.k8s is not None:
                threading.Thread(target=self.k8s.forget_agent, daemon=True).start()
        return True

    # -- Kubernetes ----------------------------------------------------------------------
    def wants_k8s(self) -> bool:
        s = self.settings
        if s is None or not s.enable_tracing_policy_crd:
            return False
        env = self.environment
        return bool(
            (env is not None and (env.kind == "kubernetes" or env.metadata_source == "kubernetes"))
            or s.enable_k8s_api
            or s.k8s_kubeconfig_path
        )

    def start_k8s(self) -> None:
        """Register the CRDs and follow the TracingPolicy objects (Kubernetes only)."""
        from appliance.errors import KubernetesError
        from appliance.metadata.kubernetes import api_client
        from controller.kubernetes import PolicyResources, ensure_crds

        try:
            api = api_client(self.settings.k8s_kubeconfig_path)
        except KubernetesError as e:
            log.error("%s", e)
            self.metrics.error("k8s_config")
            return
        ensure_crds(api)
        self.k8s = PolicyResources(api, lambda: self.client, self.metrics.done)
        self.k8s.start()
        log.info("Initialization complete")

    def sync_policies(self) -> None:
        from appliance.errors import AgentUnavailable

        if self.policies is None:
            return
        try:
            self.policies.sync(agent_start_time=self.agent_start or None)
            self.resync_policies = False
        except AgentUnavailable:
            self.resync_policies = True
        self.last_full_sync = time.monotonic()

    def _setup_policies(self) -> None:
        from controller.policies import PolicySync

        directory = self.settings.tracing_policy_dir if self.settings is not None else ""
        try:  # load the validator now rather than on the first change
            import appliance.policy.validate  # noqa: F401
        except ImportError:
            pass
        if self.policies is None:
            self.policies = PolicySync(
                directory, _LazyClient(self), self.metrics, self.opts.state_file
            )
            log.info("policy directory %s", directory or "none")
        else:
            self.policies.set_directory(directory)

    # -- changes -------------------------------------------------------------------------
    def on_config_change(self, since: float | None) -> None:
        from appliance.errors import AgentUnavailable
        from appliance.logging_setup import set_configured_level

        was_loaded = self.config.loaded is not None
        try:
            result = self.config.reload(since)
        except AgentUnavailable:
            return  # pending: retried at the next tick
        if result is None:
            self._rewatch()
            return
        new, diff = result
        s = new.settings
        if "log_level" in diff or "debug" in diff or not was_loaded:
            set_configured_level(s.effective_log_level)
        if "server_address" in diff or not was_loaded:
            self._connect(s.server_address)
        if "metadata_source" in diff or not was_loaded:
            self.detect_environment()
            self.send_environment()
        if "tracing_policy_dir" in diff or not was_loaded:
            try:
                self._setup_policies()
            except AgentUnavailable:
                self.resync_policies = True
        self._rewatch()

    def _rewatch(self) -> None:
        if self.watches is None:
            return
        for spec in self.watches.want(self.watch_specs(self._error_source())):
            self._on_new_watch(spec)

    def _on_new_watch(self, spec: WatchSpec) -> None:
        # events may have been missed while the directory was not watched
        if spec.kind == "policy":
            self.resync_policies = True
        elif self.config.loaded is not None:
            self.debouncer.touch(("config", ""))

    def _error_source(self) -> str:
        from appliance.errors import SettingsError
        from appliance.settings import load_settings

        if self.config.loaded is not None:
            return ""
        try:
            load_settings(self.config.argv, self.environ, **self.locations)
        except SettingsError as e:
            return e.source
        return ""

    def handle(self, ready) -> None:
        from appliance.errors import AgentUnavailable

        config_since = None
        for key, since in ready:
            kind, path = key
            if kind == "config":
                config_since = since if config_since is None else min(config_since, since)
                continue
            if self.policies is None:
                continue
            try:
                self.policies.apply_path(path, since)
            except AgentUnavailable:
                self.resync_policies = True
        if config_since is not None:
            self.on_config_change(config_since)

    def tick(self) -> None:
        if self.watches is not None:
            for spec in self.watches.refresh():
                self._on_new_watch(spec)
        up = self.check_agent()
        if up and self.config.pending:
            self.on_config_change(None)
        now = time.monotonic()
        if up and (self.resync_policies or now - self.last_full_sync > FULL_SYNC):
            self.sync_policies()
        if up and self.k8s is not None and self.k8s.pending:
            self.k8s.retry_pending()

    # -- running -------------------------------------------------------------------------
    def start(self) -> None:
        from appliance.logging_setup import setup_logging

        loaded = self.config.initial()
        if loaded is not None:
            setup_logging(loaded.settings.effective_log_level, loaded.settings.log_format)
        address = loaded.settings.server_address if loaded else self._bootstrap_address()
        if not address:
            log.warning("server-address is empty: the agent has no gRPC API to apply changes to")
        else:
            self._connect(address)
        if self.opts.controller_metrics:
            self.metrics.serve(self.opts.controller_metrics)
            log.info("controller metrics on %s", self.opts.controller_metrics)
        log.info("agent restart command: %s", self.config.restart_cmd or "none")
        self.detect_environment()
        if loaded is not None:
            self._setup_policies()
        if self.wants_k8s():
            self.start_k8s()
        self.watches = Watches(self._on_event)
        self._rewatch()

    def run(self) -> None:
        self.start()
        next_tick = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                if now >= next_tick:
                    self.tick()
                    next_tick = time.monotonic() + TICK
                ready = self.debouncer.wait(timeout=max(0.0, next_tick - time.monotonic()))
                if ready:
                    self.handle(ready)
            except Exception as e:  # the controller outlives a bad change or a bad answer
                log.error("unexpected error: %s: %s", type(e).__name__, e, exc_info=True)
                self.metrics.error("internal")
                next_tick = time.monotonic() + TICK

    def stop(self) -> None:
        self._stop.set()
        self.debouncer.close()
        if self.k8s is not None:
            self.k8s.stop()

    def close(self) -> None:
        if self.watches is not None:
            self.watches.close()
        if self.client is not None:
            self.client.close()


class _LazyClient:
    """The controller's current agent client (it changes with server-address)."""

    def __init__(self, controller: Controller):
        self._controller = controller

    def __getattr__(self, name: str):
        from appliance.errors import AgentUnavailable

        client = self._controller.client
        if client is None:
            if name == "report_error":
                return lambda *a, **k: None
            raise AgentUnavailable("no agent address (server-address is empty)")
        return getattr(client, name)


def main(argv: list[str] | None = None) -> int:
    from appliance.errors import SettingsError
    from appliance.logging_setup import setup_logging
    from appliance.settings import build_arg_parser, load_settings

    args = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if {"-h", "--help"} & set(args):
        parser.print_help()
        print("\ntetragon setting flags:")
        text = build_arg_parser("tetragon-controller").format_help()
        print(text[text.find("\n  --") + 1 :], end="")
        return 0
    opts, rest = parser.parse_known_args(args)
    setup_logging("info")
    try:
        # the setting flags alone: a bad flag cannot be fixed by editing a file
        load_settings(rest, {}, system_dirs=(), yaml_file=_MISSING_YAML)
    except SettingsError as e:
        if e.source == "command line" or e.source.startswith("flag "):
            print(f"tetragon-controller: {e}", file=sys.stderr)
            return 2
    ctl = Controller(opts, rest)

    def on_term(*_):
        ctl.stop()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    log.info("controller starting (pid %d)", os.getpid())
    try:
        ctl.run()
    except OSError as e:
        print(f"tetragon-controller: {e}", file=sys.stderr)
        return 1
    finally:
        ctl.close()
        log.info("controller stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
