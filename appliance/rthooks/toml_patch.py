"""Edits of containerd's and CRI-O's TOML configuration that keep the rest of the file as it was.

Each function takes the file's text and returns the new text (the same text when there is
nothing to do, so running twice gives the same file). tomlkit keeps comments, order and
spacing; new keys and tables copy the indentation of their neighbours so that a new table
looks as if the file's author had written it.
"""

from __future__ import annotations

import tomlkit
from tomlkit.items import AoT, Table
from tomlkit.toml_document import TOMLDocument

from appliance.errors import ConfigError

NRI_PLUGIN = "io.containerd.nri.v1.nri"
NRI_DEFAULTS: tuple[tuple[str, object], ...] = (
    ("disable", False),
    ("disable_connections", False),
    ("plugin_config_path", "/etc/nri/conf.d"),
    ("plugin_path", "/opt/nri/plugins"),
    ("plugin_registration_timeout", "5s"),
    ("plugin_request_timeout", "2s"),
    ("socket_path", "/var/run/nri/nri.sock"),
)
RUNC_V2 = "io.containerd.runc.v2"
# the CRI plugin's name by containerd config version (1: containerd 1.x old format)
CRI_PLUGIN = {1: "cri", 2: "io.containerd.grpc.v1.cri", 3: "io.containerd.cri.v1.runtime"}


def parse(text: str, fname: str) -> TOMLDocument:
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as e:
        why = str(e).replace("'\\x00'", "end of file")
        raise ConfigError(f"{fname}: invalid TOML: {why}") from None


def _table(parent: Table | TOMLDocument, key: str, fname: str, where: str) -> Table | None:
    """parent[key] when it is a table, None when absent; ConfigError for another type."""
    if key not in parent:
        return None
    item = parent[key]
    if not isinstance(item, Table):
        raise ConfigError(f"{fname}: {where}{key} is a {type(item).__name__}, expected a table")
    return item


def _child_tables(t: Table | TOMLDocument) -> list[Table]:
    body = t.body if isinstance(t, TOMLDocument) else t.value.body
    return [v for k, v in body if k is not None and isinstance(v, Table)]


def _key_indent(t: Table) -> str | None:
    """The indentation of t's first plain key, None when t has no plain key."""
    for k, v in t.value.body:
        if k is not None and not isinstance(v, (Table, AoT)):
            return v.trivia.indent
    return None


def _style(parent: Table | TOMLDocument) -> tuple[str, str]:
    """(header indent, key indent) for a new table under parent, copied from a sibling."""
    for sib in _child_tables(parent):
        if sib.is_super_table():
            continue
        ind = _key_indent(sib)
        return sib.trivia.indent, sib.trivia.indent + "  " if ind is None else ind
    if isinstance(parent, TOMLDocument):
        return "", ""
    base = parent.trivia.indent.rsplit("\n", 1)[-1]
    ind = _key_indent(parent)
    step = "" if not ind or len(ind) <= len(base) else ind[len(base) :]
    return base + step, base + step * 2


def _add_key(t: Table, key: str, value: object) -> None:
    """t[key] = value, the new line indented as t's other keys."""
    ind = _key_indent(t)
    before = [(sub, sub.trivia.indent) for sub in _child_tables(t)]
    t[key] = value
    if ind is not None:
        t.value.item(key).trivia.indent = ind
    for sub, indent in before:  # tomlkit puts a blank line before the next table: undo
        sub.trivia.indent = indent


def _new_table(parent: Table | TOMLDocument, key: str, items: tuple[tuple[str, object], ...]):
    head, ind = _style(parent)
    t = tomlkit.table()
    for k, v in items:
        t.add(k, v)
        t.value.item(k).trivia.indent = ind
    t.trivia.indent = head
    parent[key] = t
    return parent[key]


def _ensure_path(parent: Table | TOMLDocument, keys: list[str], fname: str) -> Table:
    """The table at parent.keys..., creating the missing ones (implicit parents not printed)."""
    where = ""
    for i, key in enumerate(keys):
        t = _table(parent, key, fname, where)
        if t is None:
            if i < len(keys) - 1:
                t = tomlkit.table(is_super_table=True)
                parent[key] = t
                t = parent[key]
            else:
                t = _new_table(parent, key, ())
        where += f"{key}."
        parent = t
    return parent


def config_version(doc: TOMLDocument, fname: str) -> int:
    v = doc.get("version", 1)
    if not isinstance(v, int) or v not in CRI_PLUGIN:
        raise ConfigError(f"{fname}: version = {v!r}: expected 1, 2 or 3")
    return int(v)


def enable_nri(text: str, fname: str) -> str:
    """Add (or enable) [plugins."io.containerd.nri.v1.nri"], as containerd 1.7 needs for NRI."""
    doc = parse(text, fname)
    config_version(doc, fname)
    plugins = _table(doc, "plugins", fname, "")
    if plugins is not None:
        nri = _table(plugins, NRI_PLUGIN, fname, "plugins.")
        if nri is not None:
            if nri.get("disable") is True:
                nri["disable"] = False
                return doc.as_string()
            return text
    else:
        plugins = _new_table(doc, "plugins", ())
    _new_table(plugins, NRI_PLUGIN, NRI_DEFAULTS)
    return doc.as_string()


def _runc_runtimes(cri: Table, fname: str, where: str) -> list[Table]:
    """The runc v2 runtime tables of the CRI plugin (runtimes.* and default_runtime)."""
    ctd = _table(cri, "containerd", fname, where)
    out: list[Table] = []
    if ctd is None:
        return out
    runtimes = _table(ctd, "runtimes", fname, where + "containerd.")
    for name, rt in (runtimes or {}).items():
        if isinstance(rt, Table) and rt.get("runtime_type") == RUNC_V2:
            out.append(rt)
        elif isinstance(rt, Table) and name == "runc" and "runtime_type" not in rt:
            out.append(rt)
    dflt = _table(ctd, "default_runtime", fname, where + "containerd.")
    if dflt is not None and dflt.get("runtime_type") == RUNC_V2:
        out.append(dflt)
    return out


def base_runtime_specs(text: str, fname: str) -> list[str]:
    """The base_runtime_spec files the runc runtimes use now (to carry their settings over)."""
    doc = parse(text, fname)
    cri = _cri_table(doc, fname, create=False)
    if cri is None:
        return []
    return [
        str(rt["base_runtime_spec"])
        for rt in _runc_runtimes(cri, fname, "")
        if rt.get("base_runtime_spec")
    ]


def _cri_table(doc: TOMLDocument, fname: str, create: bool) -> Table | None:
    name = CRI_PLUGIN[config_version(doc, fname)]
    if not create:
        plugins = _table(doc, "plugins", fname, "")
        return None if plugins is None else _table(plugins, name, fname, "plugins.")
    return _ensure_path(doc, ["plugins", name], fname)


def add_oci_hook(text: str, fname: str, spec_file: str) -> str:
    """Point every runc runtime of the CRI plugin at spec_file (a base spec carrying the hook).

    Without a runc runtime, [plugins.<cri>.containerd.runtimes.runc] is added with
    runtime_type io.containerd.runc.v2.
    """
    doc = parse(text, fname)
    cri = _cri_table(doc, fname, create=True)
    runtimes = _runc_runtimes(cri, fname, "")
    if not runtimes:
        rts = _ensure_path(cri, ["containerd", "runtimes"], fname)
        rt = _new_table(rts, "runc", (("runtime_type", RUNC_V2),))
        runtimes = [rt]
    changed = False
    for rt in runtimes:
        if rt.get("base_runtime_spec") == spec_file:
            continue
        if "base_runtime_spec" in rt:
            rt["base_runtime_spec"] = spec_file
        else:
            _add_key(rt, "base_runtime_spec", spec_file)
        changed = True
    return doc.as_string() if changed else text


def add_crio_hooks_dir(text: str, fname: str, hooks_dir: str) -> str:
    """Make hooks_dir of [crio.runtime] include hooks_dir (CRI-O then runs hooks.d files)."""
    doc = parse(text, fname)
    rt = _ensure_path(doc, ["crio", "runtime"], fname)
    cur = rt.get("hooks_dir")
    if cur is None:
        arr = tomlkit.array()
        arr.append(hooks_dir)
        _add_key(rt, "hooks_dir", arr)
        return doc.as_string()
    if not isinstance(cur, list):
        raise ConfigError(f"{fname}: crio.runtime.hooks_dir is not an array")
    if hooks_dir in cur:
        return text
    cur.append(hooks_dir)
    return doc.as_string()
