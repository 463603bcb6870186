"""Tests of the settings model and its loading from drop-ins, YAML, environment and flags."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from appliance.settings import (
    DEFAULT_DIRS,
    FLAG_NAMES,
    LIVE_SETTINGS,
    LoadedSettings,
    Settings,
    SettingsError,
    ValidationError,
    build_arg_parser,
    diff_settings,
    effective_settings_lines,
    format_duration,
    format_value,
    generate_docs,
    load_settings,
)

REPO = Path(__file__).resolve().parents[2]


class Layout:
    """Temporary stand-ins for the system directories and the YAML file."""

    def __init__(self, root: Path) -> None:
        self.usr = root / "usr/lib/tetragon/tetragon.conf.d"
        self.usr_local = root / "usr/local/lib/tetragon/tetragon.conf.d"
        self.etc = root / "etc/tetragon/tetragon.conf.d"
        self.yaml = root / "etc/tetragon/tetragon.yaml"
        self.config_dir = root / "configmap"
        for d in (self.usr, self.usr_local, self.etc, self.config_dir):
            d.mkdir(parents=True)

    @property
    def dirs(self) -> list[str]:
        return [str(self.usr), str(self.usr_local), str(self.etc)]

    def load(self, argv: list[str] | None = None, env: dict[str, str] | None = None):
        return load_settings(
            argv=argv or [], environ=env or {}, system_dirs=self.dirs, yaml_file=str(self.yaml)
        )


@pytest.fixture
def fs(tmp_path: Path) -> Layout:
    return Layout(tmp_path)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- defaults and the model -------------------------------------------------------------


def test_defaults_when_nothing_is_set(fs: Layout) -> None:
    loaded = fs.load()
    s = loaded.settings
    assert s.export_filename == ""
    assert s.export_file_max_size_mb == 10
    assert s.export_file_max_backups == 5
    assert s.export_file_compress is False
    assert s.export_file_rotation_interval == timedelta(0)
    assert s.export_file_perm == "600"
    assert s.export_rate_limit == -1
    assert s.server_address == "localhost:54321"
    assert s.metrics_server == ""
    assert s.process_cache_size == 65536
    assert s.procfs == "/proc"
    assert s.bpf_lib == ""
    assert s.btf == ""
    assert s.tracing_policy_dir == "/etc/tetragon/tetragon.tp.d"
    assert s.log_level == "info"
    assert s.log_format == "text"
    assert s.metadata_source == "auto"
    assert s.policy_cache_dir == "/var/cache/tetragon/policies"
    assert s.export_stdout is False
    assert s.enable_tracing_policy_crd is True
    assert s.release_pinned_bpf is True
    assert s.process_cache_gc_interval == timedelta(seconds=30)
    assert s.export_aggregation_window_size == timedelta(seconds=15)
    assert s.metrics_label_filter == ("namespace", "workload", "pod", "binary")
    assert loaded.warnings == []
    assert loaded.dirs == tuple(fs.dirs)
    for name, source in loaded.sources.items():
        if name != "node_name":
            assert source == "default", name


def test_default_dirs_follow_upstream_order() -> None:
    assert DEFAULT_DIRS == (
        "/usr/lib/tetragon/tetragon.conf.d",
        "/usr/local/lib/tetragon/tetragon.conf.d",
        "/etc/tetragon/tetragon.conf.d",
    )


def test_constructing_settings_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TETRAGON_EXPORT_FILENAME", "/from/env")
    assert Settings().export_filename == ""
    assert Settings() == Settings()


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError, match="frozen"):
        Settings().export_filename = "/x"  # type: ignore[misc]


def test_typed_values_are_checked_against_the_field_type() -> None:
    assert Settings(process_cache_size=2.0).process_cache_size == 2
    assert Settings(debug=1).debug is True
    assert Settings(process_cache_gc_interval=5).process_cache_gc_interval == timedelta(seconds=5)
    for name, value, reason in (
        ("process_cache_size", 2.5, "valid integer"),
        ("debug", 2, "valid boolean"),
        ("process_cache_size", 0, "greater than 0"),
        ("no_such_setting", 1, "extra inputs"),
    ):
        with pytest.raises(ValidationError) as e:
            Settings(**{name: value})
        assert e.value.errors()[0]["loc"] == (name,)
        assert reason in e.value.errors()[0]["msg"]


def test_the_idle_agent_imports_none_of_the_heavy_optional_packages() -> None:
    """The agent's import graph before its first event stays clear of pydantic (its import
    and schemas cost the idle agent about 10 MB of resident memory; policies load it when
    the first one is parsed), PyYAML, prometheus_client (only with a metrics server) and
    the Kubernetes and Docker clients (only when that environment is detected)."""
    heavy = ("pydantic", "pydantic_core", "yaml", "prometheus_client", "kubernetes", "docker")
    code = (
        "import sys, appliance.agent, appliance.daemon, appliance.live, appliance.settings, "
        "appliance.policy.manager, appliance.metadata; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_field_has_a_flag_and_a_description() -> None:
    assert FLAG_NAMES["export-filename"] == "export_filename"
    assert FLAG_NAMES["enable-k8s-api"] == "enable_k8s_api"
    assert FLAG_NAMES["process-cache-size"] == "process_cache_size"
    assert sorted(FLAG_NAMES.values()) == sorted(Settings.model_fields)
    for flag, name in FLAG_NAMES.items():
        assert flag == name.replace("_", "-")
        assert Settings.model_fields[name].description, name


def test_upstream_flags_are_all_present() -> None:
    upstream = """bpf-lib btf config-dir cpuprofile data-cache-size debug disable-kprobe-multi
    enable-export-aggregation enable-k8s-api enable-msg-handling-latency enable-pid-set-filter
    enable-pod-info enable-policy-filter enable-policy-filter-debug enable-process-cred
    enable-process-ns enable-tracing-policy-crd event-queue-size export-aggregation-buffer-size
    export-aggregation-window-size export-allowlist export-denylist export-file-compress
    export-file-max-backups export-file-max-size-mb export-file-perm
    export-file-rotation-interval export-filename export-rate-limit expose-kernel-addresses
    field-filters force-large-progs force-small-progs generate-docs gops-address
    k8s-kubeconfig-path kernel kmods log-format log-level memprofile metrics-label-filter
    metrics-server netns-dir process-cache-size procfs rb-queue-size rb-size rb-size-total
    release-pinned-bpf server-address tracing-policy tracing-policy-dir verbose cluster-name
    k8s-controlplane-retry enable-pod-annotations enable-ancestors pprof-address
    redaction-filters use-perf-ring-buffer enable-policy-filter-cgroup-map
    expose-stack-addresses cgroup-rate username-metadata health-server-address
    health-server-interval bpf-dir keep-sensors-on-exit enable-cri cri-endpoint enable-cgidmap
    enable-cgidmap-debug enable-cgtrackerid event-cache-retries event-cache-retry-delay
    enable-compatibility-syscall64-size-type execve-map-entries execve-map-size
    process-cache-gc-interval enable-process-environment-variables filter-environment-variables
    retprobes-cache-size""".split()
    missing = [flag for flag in upstream if flag not in FLAG_NAMES]
    assert missing == []


def test_live_settings_are_fields() -> None:
    assert LIVE_SETTINGS <= set(Settings.model_fields)
    for name in ("export_filename", "field_filters", "log_level", "btf", "export_rate_limit"):
        assert name in LIVE_SETTINGS
    for name in ("tracing_policy_dir", "export_allowlist", "export_denylist"):
        assert name in LIVE_SETTINGS
    for name in ("server_address", "procfs", "bpf_lib", "process_cache_size", "rb_size"):
        assert name not in LIVE_SETTINGS


# --- precedence -------------------------------------------------------------------------


def test_each_source_overrides_the_previous_one(fs: Layout) -> None:
    key = "export-filename"
    write(fs.usr / key, "/usr-lib\n")
    write(fs.usr_local / key, "/usr-local-lib\n")
    write(fs.yaml, f"{key}: /yaml\nconfig-dir: {fs.config_dir}\n")
    write(fs.etc / key, "/etc-dropin\n")
    write(fs.config_dir / key, "/config-dir\n")
    env = {"TETRAGON_EXPORT_FILENAME": "/env"}
    argv = ["--export-filename", "/flag"]

    def check(expected: str, source: str) -> None:
        loaded = fs.load(argv, env)
        assert loaded.settings.export_filename == expected
        assert loaded.sources["export_filename"] == source

    check("/flag", "flag --export-filename")
    argv = []
    check("/env", "env TETRAGON_EXPORT_FILENAME")
    env = {}
    check("/config-dir", str(fs.config_dir / key))
    (fs.config_dir / key).unlink()
    check("/etc-dropin", str(fs.etc / key))
    (fs.etc / key).unlink()
    check("/yaml", str(fs.yaml))
    write(fs.yaml, "")
    check("/usr-local-lib", str(fs.usr_local / key))
    (fs.usr_local / key).unlink()
    check("/usr-lib", str(fs.usr / key))
    (fs.usr / key).unlink()
    check("", "default")


def test_sources_name_each_setting_separately(fs: Layout) -> None:
    write(fs.usr / "export-filename", "/var/log/tetragon/tetragon.log")
    write(fs.etc / "process-cache-size", "1024")
    write(fs.yaml, "log-level: debug\n")
    loaded = fs.load(["--export-stdout"], {"TETRAGON_METRICS_SERVER": ":2112"})
    assert loaded.sources["export_filename"] == str(fs.usr / "export-filename")
    assert loaded.sources["process_cache_size"] == str(fs.etc / "process-cache-size")
    assert loaded.sources["log_level"] == str(fs.yaml)
    assert loaded.sources["metrics_server"] == "env TETRAGON_METRICS_SERVER"
    assert loaded.sources["export_stdout"] == "flag --export-stdout"
    assert loaded.sources["btf"] == "default"
    s = loaded.settings
    assert (s.process_cache_size, s.log_level, s.metrics_server) == (1024, "debug", ":2112")


def test_config_dir_set_by_flag_env_or_file(fs: Layout) -> None:
    write(fs.config_dir / "cluster-name", "prod")
    assert fs.load().settings.cluster_name == ""
    by_flag = fs.load([f"--config-dir={fs.config_dir}"])
    assert by_flag.settings.cluster_name == "prod"
    assert by_flag.dirs[-1] == str(fs.config_dir)
    by_env = fs.load(env={"TETRAGON_CONFIG_DIR": str(fs.config_dir)})
    assert by_env.settings.cluster_name == "prod"
    write(fs.etc / "config-dir", str(fs.config_dir))
    by_file = fs.load()
    assert by_file.settings.cluster_name == "prod"
    assert by_file.sources["cluster_name"] == str(fs.config_dir / "cluster-name")
    assert by_file.sources["config_dir"] == str(fs.etc / "config-dir")


def test_config_dir_is_read_before_environment_and_flags(fs: Layout) -> None:
    write(fs.config_dir / "cluster-name", "from-dir")
    loaded = fs.load([f"--config-dir={fs.config_dir}"], {"TETRAGON_CLUSTER_NAME": "from-env"})
    assert loaded.settings.cluster_name == "from-env"


def test_missing_config_dir_names_its_source(fs: Layout) -> None:
    write(fs.etc / "config-dir", str(fs.config_dir / "nope"))
    with pytest.raises(SettingsError) as info:
        fs.load()
    assert info.value.source == str(fs.etc / "config-dir")
    assert info.value.key == "config-dir"
    assert "does not exist" in info.value.reason


def test_config_dir_inside_config_dir_is_ignored(fs: Layout) -> None:
    write(fs.config_dir / "config-dir", "/elsewhere")
    loaded = fs.load([f"--config-dir={fs.config_dir}"])
    assert loaded.settings.config_dir == str(fs.config_dir)
    assert any(str(fs.config_dir / "config-dir") in w for w in loaded.warnings)


def test_config_dir_from_configmap_symlinks(fs: Layout) -> None:
    # The layout a Kubernetes ConfigMap volume has: keys are links into ..data.
    data = fs.config_dir / "..2024_01_01"
    data.mkdir()
    write(data / "export-filename", "/var/log/tetragon/cm.log\n")
    os.symlink("..2024_01_01", fs.config_dir / "..data")
    os.symlink("..data/export-filename", fs.config_dir / "export-filename")
    loaded = fs.load([f"--config-dir={fs.config_dir}"])
    assert loaded.settings.export_filename == "/var/log/tetragon/cm.log"
    assert loaded.warnings == []


def test_missing_system_dirs_and_yaml_are_skipped(tmp_path: Path) -> None:
    loaded = load_settings(
        argv=[],
        environ={},
        system_dirs=[str(tmp_path / "a"), str(tmp_path / "b")],
        yaml_file=str(tmp_path / "none.yaml"),
    )
    assert loaded.settings.export_filename == ""
    assert loaded.warnings == []


# --- drop-in files -----------------------------------------------------------------------


def test_dropin_value_is_stripped(fs: Layout) -> None:
    write(fs.etc / "export-filename", "  /var/log/t.log \n\n")
    assert fs.load().settings.export_filename == "/var/log/t.log"


def test_multiline_dropin_value_is_kept(fs: Layout) -> None:
    filters = '{"event_set":["PROCESS_EXEC"]}\n{"binary_regex":["^/usr/bin/"]}\n'
    write(fs.etc / "export-allowlist", filters)
    assert fs.load().settings.export_allowlist == filters.strip()


def test_empty_dropin_clears_back_to_default(fs: Layout) -> None:
    write(fs.usr / "export-filename", "/var/log/tetragon/tetragon.log\n")
    write(fs.usr / "process-cache-size", "1024\n")
    write(fs.etc / "export-filename", "")
    write(fs.etc / "process-cache-size", "\n")
    loaded = fs.load()
    assert loaded.settings.export_filename == ""
    assert loaded.settings.process_cache_size == 65536
    assert loaded.sources["export_filename"] == (
        f"default (cleared by {fs.etc / 'export-filename'})"
    )


def test_later_value_after_a_clear_wins(fs: Layout) -> None:
    write(fs.usr / "export-filename", "/a")
    write(fs.etc / "export-filename", "")
    loaded = fs.load(["--export-filename=/b"])
    assert loaded.settings.export_filename == "/b"


def test_empty_yaml_value_and_empty_flag_clear(fs: Layout) -> None:
    write(fs.usr / "log-level", "debug")
    write(fs.yaml, "log-level:\n")
    assert fs.load().settings.log_level == "info"
    write(fs.yaml, "")
    assert fs.load().settings.log_level == "debug"
    loaded = fs.load(["--log-level="])
    assert loaded.settings.log_level == "info"
    assert loaded.sources["log_level"] == "default (cleared by flag --log-level)"


def test_empty_server_address_disables_the_server(fs: Layout) -> None:
    write(fs.etc / "server-address", "")
    write(fs.etc / "health-server-address", "")
    loaded = fs.load()
    assert loaded.settings.server_address == ""
    assert loaded.settings.health_server_address == ""
    assert loaded.sources["server_address"] == str(fs.etc / "server-address")
    assert 'server-address="" (' in "\n".join(effective_settings_lines(loaded))


def test_field_name_with_underscores_is_accepted(fs: Layout) -> None:
    write(fs.etc / "export_filename", "/x")
    assert fs.load().settings.export_filename == "/x"


def test_both_spellings_in_one_dir_warn(fs: Layout) -> None:
    write(fs.etc / "export-filename", "/dash")
    write(fs.etc / "export_filename", "/underscore")
    loaded = fs.load()
    assert loaded.settings.export_filename == "/underscore"
    assert len(loaded.warnings) == 1
    assert "export-filename" in loaded.warnings[0]


@pytest.mark.parametrize(
    "name",
    [
        ".hidden",
        "export-filename~",
        ".export-filename.swp",
        "export-filename.swp",
        "#export-filename#",
        "export-filename.dpkg-old",
        "export-filename.rpmnew",
    ],
)
def test_editor_and_package_leftovers_are_ignored(fs: Layout, name: str) -> None:
    write(fs.etc / name, "/leftover")
    loaded = fs.load()
    assert loaded.settings.export_filename == ""
    assert loaded.warnings == []


def test_subdirectories_are_ignored(fs: Layout) -> None:
    (fs.etc / "export-filename").mkdir()
    (fs.etc / "nested").mkdir()
    write(fs.etc / "nested" / "log-level", "debug")
    loaded = fs.load()
    assert loaded.settings.export_filename == ""
    assert loaded.settings.log_level == "info"
    assert loaded.warnings == []


def test_unknown_dropin_warns_with_its_path(fs: Layout) -> None:
    write(fs.etc / "export-filenam", "/typo")
    loaded = fs.load()
    assert len(loaded.warnings) == 1
    assert str(fs.etc / "export-filenam") in loaded.warnings[0]
    assert "unknown setting" in loaded.warnings[0]


def test_invalid_dropin_raises_with_file_key_and_reason(fs: Layout) -> None:
    path = write(fs.etc / "process-cache-size", "abc\n")
    with pytest.raises(SettingsError) as info:
        fs.load()
    err = info.value
    assert err.source == str(path)
    assert err.key == "process-cache-size"
    assert err.reason == "expected an integer"
    assert str(err) == (f"{path}: invalid value 'abc' for process-cache-size: expected an integer")


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("export-file-compress", "maybe", "expected a boolean"),
        ("export-file-rotation-interval", "ten minutes", "expected a duration"),
        ("rb-size", "12X", "expected a size"),
        ("log-level", "loud", "expected one of: trace, debug, info"),
        ("metadata-source", "podman", "expected one of: auto, kubernetes, docker, cgroup"),
        ("export-file-perm", "rwx", "expected octal file permissions"),
        ("server-address", "localhost", "expected an address"),
        ("field-filters", "{not json", "expected JSON objects"),
        ("verbose", "7", "less than or equal to 2"),
        ("process-cache-size", "0", "greater than 0"),
        ("export-rate-limit", "-5", "greater than or equal to -1"),
        ("k8s-controlplane-retry", "0", "zero is invalid"),
        ("cgroup-rate", "1000", "expected <events>,<interval>"),
        ("process-cache-gc-interval", "0s", "greater than"),
    ],
)
def test_invalid_values_are_reported(fs: Layout, key: str, value: str, reason: str) -> None:
    write(fs.usr_local / key, value)
    with pytest.raises(SettingsError) as info:
        fs.load()
    assert info.value.source == str(fs.usr_local / key)
    assert info.value.key == key
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{fs.usr_local / key}: invalid value {value!r} for {key}")


def test_conflicting_settings_are_reported(fs: Layout) -> None:
    write(fs.etc / "force-small-progs", "true")
    with pytest.raises(SettingsError) as info:
        fs.load(["--force-large-progs"])
    assert "force-small-progs and force-large-progs" in info.value.reason
    assert str(fs.etc / "force-small-progs") in info.value.source
    assert "flag --force-large-progs" in info.value.source


# --- YAML -------------------------------------------------------------------------------


def test_yaml_values_parse_like_dropins(fs: Layout) -> None:
    write(
        fs.yaml,
        "export-file-perm: 0640\n"
        "export-file-compress: yes\n"
        "export_file_max_backups: 3\n"
        "kmods: [nf_tables, ip_tables]\n"
        "enable-ancestors: base,kprobe\n"
        "export-file-rotation-interval: 1h\n",
    )
    s = fs.load().settings
    assert s.export_file_perm == "0640"
    assert s.export_file_mode == 0o640
    assert s.export_file_compress is True
    assert s.export_file_max_backups == 3
    assert s.kmods == ("nf_tables", "ip_tables")
    assert s.enable_ancestors == ("base", "kprobe")
    assert s.export_file_rotation_interval == timedelta(hours=1)


def test_yaml_unknown_key_warns_with_file(fs: Layout) -> None:
    write(fs.yaml, "export-filenme: /x\n")
    loaded = fs.load()
    assert loaded.warnings == [f"{fs.yaml}: unknown setting 'export-filenme' ignored"]


def test_yaml_invalid_value_names_file_and_key(fs: Layout) -> None:
    write(fs.yaml, "export-file-max-size-mb: big\n")
    with pytest.raises(SettingsError) as info:
        fs.load()
    assert info.value.source == str(fs.yaml)
    assert info.value.key == "export-file-max-size-mb"
    assert info.value.reason == "expected an integer"


@pytest.mark.parametrize(
    ("text", "reason"),
    [("- a\n- b\n", "expected a mapping"), ("a: [\n", "not valid YAML"), ("x\n", "mapping")],
)
def test_yaml_that_is_not_a_mapping(fs: Layout, text: str, reason: str) -> None:
    write(fs.yaml, text)
    with pytest.raises(SettingsError) as info:
        fs.load()
    assert info.value.source == str(fs.yaml)
    assert reason in info.value.reason


def test_yaml_nested_mapping_is_refused(fs: Layout) -> None:
    write(fs.yaml, "export-filename:\n  path: /x\n")
    with pytest.raises(SettingsError) as info:
        fs.load()
    assert info.value.key == "export-filename"


# --- environment ------------------------------------------------------------------------


def test_environment_values_are_parsed(fs: Layout) -> None:
    env = {
        "TETRAGON_EXPORT_FILE_COMPRESS": "TRUE",
        "TETRAGON_EXPORT_FILE_MAX_SIZE_MB": "50",
        "TETRAGON_EXPORT_FILE_ROTATION_INTERVAL": "1h30m",
        "TETRAGON_RB_SIZE_TOTAL": "8M",
        "TETRAGON_METRICS_LABEL_FILTER": "namespace, pod",
        "TETRAGON_LOG_LEVEL": "WARNING",
        "TETRAGON_ENABLE_K8S_API": "0",
        "PATH": "/usr/bin",
    }
    loaded = fs.load(env=env)
    s = loaded.settings
    assert s.export_file_compress is True
    assert s.export_file_max_size_mb == 50
    assert s.export_file_rotation_interval == timedelta(hours=1, minutes=30)
    assert s.rb_size_total == 8 * 1024 * 1024
    assert s.metrics_label_filter == ("namespace", "pod")
    assert s.log_level == "warn"
    assert s.enable_k8s_api is False
    assert loaded.sources["rb_size_total"] == "env TETRAGON_RB_SIZE_TOTAL"
    assert loaded.warnings == []


def test_empty_environment_variable_is_ignored(fs: Layout) -> None:
    write(fs.etc / "export-filename", "/from-file")
    loaded = fs.load(env={"TETRAGON_EXPORT_FILENAME": ""})
    assert loaded.settings.export_filename == "/from-file"


def test_unknown_environment_variable_warns(fs: Layout) -> None:
    loaded = fs.load(env={"TETRAGON_EXPORT_FILENAM": "/x"})
    assert loaded.warnings == ["env TETRAGON_EXPORT_FILENAM: unknown setting ignored"]


def test_invalid_environment_value_names_variable(fs: Layout) -> None:
    with pytest.raises(SettingsError) as info:
        fs.load(env={"TETRAGON_PROCESS_CACHE_SIZE": "lots"})
    assert str(info.value) == (
        "env TETRAGON_PROCESS_CACHE_SIZE: invalid value 'lots' for process-cache-size: "
        "expected an integer"
    )


def test_node_name_fallbacks(fs: Layout) -> None:
    assert fs.load().settings.node_name == socket.gethostname()
    assert fs.load().sources["node_name"] == "host name"
    loaded = fs.load(env={"NODE_NAME": "k8s-node"})
    assert (loaded.settings.node_name, loaded.sources["node_name"]) == (
        "k8s-node",
        "env NODE_NAME",
    )
    env = {"NODE_NAME": "k8s-node", "HUBBLE_NODE_NAME": "export-name"}
    assert fs.load(env=env).settings.node_name == "export-name"
    env["TETRAGON_NODE_NAME"] = "explicit"
    assert fs.load(env=env).settings.node_name == "explicit"
    write(fs.etc / "node-name", "from-file")
    assert fs.load(env={"NODE_NAME": "k8s-node"}).settings.node_name == "from-file"


# --- command-line flags -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--export-file-compress"], True),
        (["--export-file-compress=true"], True),
        (["--export-file-compress=false"], False),
        (["--export-file-compress", "false"], False),
        (["--export-file-compress=1"], True),
        (["--export-file-compress=F"], False),
        (["--export-file-compress", "--export-filename=/x"], True),
    ],
)
def test_bool_flag_forms(fs: Layout, argv: list[str], expected: bool) -> None:
    write(fs.etc / "export-file-compress", "false" if expected else "true")
    loaded = fs.load(argv)
    assert loaded.settings.export_file_compress is expected
    assert loaded.sources["export_file_compress"] == "flag --export-file-compress"


def test_bool_flag_that_defaults_to_true_can_be_turned_off(fs: Layout) -> None:
    assert fs.load(["--release-pinned-bpf=false"]).settings.release_pinned_bpf is False


def test_debug_short_flag(fs: Layout) -> None:
    s = fs.load(["-d"]).settings
    assert s.debug is True
    assert s.effective_log_level == "debug"
    assert fs.load().settings.effective_log_level == "info"


def test_last_flag_wins(fs: Layout) -> None:
    s = fs.load(["--export-filename=/a", "--export-filename", "/b"]).settings
    assert s.export_filename == "/b"


def test_invalid_flag_value_names_the_flag(fs: Layout) -> None:
    with pytest.raises(SettingsError) as info:
        fs.load(["--export-file-compress=perhaps"])
    assert info.value.source == "flag --export-file-compress"
    assert info.value.key == "export-file-compress"


@pytest.mark.parametrize("argv", [["--no-such-flag"], ["--export-file"], ["stray"]])
def test_unknown_flags_raise(fs: Layout, argv: list[str]) -> None:
    with pytest.raises(SettingsError) as info:
        fs.load(argv)
    assert info.value.source == "command line"


def test_parser_has_one_option_per_setting() -> None:
    parser = build_arg_parser("tetragon")
    options = {opt for action in parser._actions for opt in action.option_strings if opt != "-h"}
    expected = {f"--{flag}" for flag in FLAG_NAMES} | {"-d", "--help"}
    assert options == expected
    assert vars(parser.parse_args([])) == {}
    help_text = " ".join(parser.format_help().split())
    assert "--export-filename" in help_text
    assert "Filename" in help_text or "JSON lines" in help_text
    assert "(default localhost:54321)" in help_text


def test_help_exits(fs: Layout, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        fs.load(["--help"])
    assert info.value.code == 0
    assert "--tracing-policy-dir" in capsys.readouterr().out


# --- derived values, reporting and diffing ----------------------------------------------


def test_cgtrackerid_follows_cgidmap_unless_set(fs: Layout) -> None:
    assert fs.load().settings.enable_cgtrackerid is False
    loaded = fs.load(["--enable-cgidmap"])
    assert loaded.settings.enable_cgtrackerid is True
    assert loaded.sources["enable_cgtrackerid"] == "default (follows enable-cgidmap)"
    assert (
        fs.load(["--enable-cgidmap", "--enable-cgtrackerid=false"]).settings.enable_cgtrackerid
        is False
    )


def test_cgroup_rate_and_stack_addresses() -> None:
    s = Settings(cgroup_rate="1000,1s", expose_kernel_addresses=True)
    assert s.cgroup_rate_limit == (1000, timedelta(seconds=1))
    assert s.stack_addresses_exposed is True
    assert Settings().cgroup_rate_limit is None
    assert Settings().stack_addresses_exposed is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", "30s"),
        ("1h30m", "1h30m0s"),
        ("500ms", "500ms"),
        ("0", "0s"),
        ("90", "1m30s"),
        ("1.5h", "1h30m0s"),
        ("2m0.5s", "2m0.5s"),
    ],
)
def test_durations(text: str, expected: str) -> None:
    value = Settings(export_file_rotation_interval=text).export_file_rotation_interval
    assert format_duration(value) == expected
    again = Settings(export_file_rotation_interval=expected).export_file_rotation_interval
    assert again == value


def test_sizes() -> None:
    assert Settings(rb_size="64K").rb_size == 65536
    assert Settings(rb_size="2m").rb_size == 2 * 1024 * 1024
    assert Settings(rb_size="1G").rb_size == 1 << 30
    assert Settings(rb_size="123").rb_size == 123


def test_formatted_values_parse_back(fs: Layout) -> None:
    source = Settings(
        export_filename="/var/log/x.log",
        export_file_rotation_interval="1h",
        kmods="a,b",
        export_file_compress=True,
        rb_size="4K",
        log_level="debug",
    )
    for name in Settings.model_fields:
        text = format_value(name, getattr(source, name))
        if text:
            write(fs.etc / name.replace("_", "-"), text)
    loaded = fs.load()
    assert loaded.warnings == []
    for name in Settings.model_fields:
        if name != "node_name":
            assert getattr(loaded.settings, name) == getattr(source, name), name


def test_effective_settings_lines(fs: Layout) -> None:
    write(fs.etc / "export-filename", "/var/log/tetragon/tetragon.log")
    write(fs.etc / "export-allowlist", '{"event_set":["PROCESS_EXEC"]}\n{"pod_regex":["x"]}')
    loaded = fs.load(["--export-file-compress"], {"TETRAGON_RB_SIZE": "4K"})
    lines = effective_settings_lines(loaded)
    assert len(lines) == len(FLAG_NAMES)
    assert all("\n" not in line for line in lines)
    assert f"export-filename=/var/log/tetragon/tetragon.log ({fs.etc / 'export-filename'})" in lines
    assert "export-file-compress=true (flag --export-file-compress)" in lines
    assert "rb-size=4096 (env TETRAGON_RB_SIZE)" in lines
    assert 'btf="" (default)' in lines
    assert "export-file-rotation-interval=0s (default)" in lines
    assert "metrics-label-filter=namespace,workload,pod,binary (default)" in lines


def test_diff_settings() -> None:
    old = Settings()
    new = Settings(export_filename="/x", log_level="debug")
    assert diff_settings(old, new) == {
        "export_filename": ("", "/x"),
        "log_level": ("info", "debug"),
    }
    assert diff_settings(old, Settings()) == {}
    assert set(diff_settings(old, new)) <= LIVE_SETTINGS
    assert not set(diff_settings(old, Settings(procfs="/host/proc"))) <= LIVE_SETTINGS


def test_generate_docs_lists_every_flag() -> None:
    text = generate_docs()
    for flag in FLAG_NAMES:
        assert f"name: {flag}\n" in text


def test_loaded_settings_type(fs: Layout) -> None:
    loaded = fs.load()
    assert isinstance(loaded, LoadedSettings)
    assert set(loaded.sources) == set(Settings.model_fields)


# --- the shipped defaults ---------------------------------------------------------------


def test_shipped_dropins_are_valid() -> None:
    shipped = REPO / "config" / "tetragon.conf.d"
    names = sorted(p.name for p in shipped.iterdir())
    assert names, "no default drop-ins shipped"
    assert all(name in FLAG_NAMES for name in names)
    loaded = load_settings(argv=[], environ={}, system_dirs=[str(shipped)], yaml_file="/none")
    assert loaded.warnings == []
    s = loaded.settings
    assert s.export_filename == "/var/log/tetragon/tetragon.log"
    assert s.server_address == "unix:///var/run/tetragon/tetragon.sock"
    assert s.metrics_server == ":2112"
    assert s.tracing_policy_dir == "/etc/tetragon/tetragon.tp.d"
    for name in names:
        assert loaded.sources[FLAG_NAMES[name]] == str(shipped / name)
