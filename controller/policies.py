"""The policy directory, kept in step with the agent's loaded policies.

Each ``*.yaml``/``*.yml`` file under the directory (subdirectories included, hidden ones
and editor leftovers skipped) holds one or more TracingPolicy documents. The controller
remembers, per file, the digest of the content it applied and the policies (name,
namespace) it holds. A file event leads to :meth:`PolicySync.apply_path`:

- a new file is validated offline (``appliance.policy.validate``) and its policies added
  with Tetragon's AddTracingPolicy;
- a changed file is validated, and each of its policies replaced with the appliance's
  ReplaceTracingPolicy, which attaches the new version before detaching the old one, so
  enforcement never stops; policies no longer in the file are deleted afterwards;
- a removed file's policies are deleted (DeleteTracingPolicy) by the names they had.

A file that does not validate, or that the agent refuses, is logged with its file, YAML
path and reason, counted and reported to the agent; the policies loaded from its last good
version keep running. :meth:`PolicySync.sync` reconciles the whole directory with the
agent's ListTracingPolicies: at start, after an agent restart and periodically. A small
state file lets a restarted controller recognise the policies it added before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import yaml

from appliance.errors import AgentRefused, AgentUnavailable, NoPolicyEngine
from appliance.settings import ignored_name

log = logging.getLogger("tetragon.controller.policies")

POLICY_SUFFIXES = (".yaml", ".yml")

Key = tuple[str, str]  # (name, namespace)


def is_policy_file(path: str) -> bool:
    """Whether a path names a policy file (not a hidden file or an editor's leftover)."""
    name = os.path.basename(path)
    if name.startswith("#") or ignored_name(name):
        return False
    return name.endswith(POLICY_SUFFIXES)


def scan(directory: str) -> list[str]:
    """Policy files under ``directory``, sorted; hidden directories skipped."""
    out: list[str] = []
    if not os.path.isdir(directory):
        return out
    for root, dirs, files in os.walk(directory, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            path = os.path.join(root, f)
            if is_policy_file(path) and os.path.isfile(path):
                out.append(path)
    return out


@dataclass
class Document:
    name: str
    namespace: str
    text: str

    @property
    def key(self) -> Key:
        return (self.name, self.namespace)


@dataclass
class FileState:
    digest: str  # "" when the file is not fully applied (retried at the next sync)
    policies: list[Key] = field(default_factory=list)


def validate(path: str, text: str) -> list[str]:
    """Problems of a policy file, each naming the file, YAML path and reason."""
    try:
        from appliance.policy.validate import validate_text
    except ImportError:  # an agent without the policy engine
        return _basic_problems(path, text)
    return [str(p) for p in validate_text(text, path) if p.is_error]


def _basic_problems(path: str, text: str) -> list[str]:
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        return [f"{path}: not valid YAML: {e}"]
    out = []
    for i, doc in enumerate(docs):
        where = f"{path} (document {i + 1})" if len(docs) > 1 else path
        if not isinstance(doc, dict):
            out.append(f"{where}: a policy is a YAML mapping")
            continue
        if doc.get("kind") not in ("TracingPolicy", "TracingPolicyNamespaced"):
            out.append(f"{where}: kind: expected TracingPolicy or TracingPolicyNamespaced")
        meta = doc.get("metadata")
        if not isinstance(meta, dict) or not meta.get("name"):
            out.append(f"{where}: metadata.name: required")
    return out


def documents(path: str, text: str) -> list[Document]:
    """The policy documents of a valid file; a single document keeps its text as written."""
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    out = []
    for doc in docs:
        meta = doc.get("metadata") or {}
        body = text if len(docs) == 1 else yaml.safe_dump(doc, sort_keys=False)
        out.append(Document(str(meta.get("name", "")), str(meta.get("namespace", "") or ""), body))
    return out


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class PolicySync:
    """Applies the policy directory to the agent. Not thread-safe: one worker calls it."""

    def __init__(
        self,
        directory: str,
        client,
        metrics=None,
        state_file: str = "",
        clock: Callable[[], float] = time.monotonic,
    ):
        self.directory = os.path.abspath(directory) if directory else ""
        self.client = client
        self.metrics = metrics
        self.state_file = state_file
        self.clock = clock
        self.files: dict[str, FileState] = {}
        self.failed: dict[str, str] = {}  # path -> digest of the version that failed
        self.engine: bool | None = None  # None: not known yet
        # adds under way, written to the state file before the agent is asked: a
        # controller killed in between finds them there (path -> (digest, policies))
        self.pending: dict[str, tuple[str, list[Key]]] = {}
        self.recovered: dict[str, tuple[str, list[Key]]] = {}
        self._load_state()

    # -- bookkeeping -----------------------------------------------------------------
    def _load_state(self) -> None:
        if not self.state_file:
            return
        try:
            with open(self.state_file) as f:
                data = json.load(f)
        except (OSError, ValueError):
            return
        if data.get("directory") != self.directory:
            return
        for path, entry in (data.get("files") or {}).items():
            keys = [(str(n), str(ns)) for n, ns in entry.get("policies", [])]
            self.files[path] = FileState(str(entry.get("digest", "")), keys)
        for path, entry in (data.get("pending") or {}).items():
            keys = [(str(n), str(ns)) for n, ns in entry.get("policies", [])]
            self.recovered[path] = (str(entry.get("digest", "")), keys)

    def _save_state(self) -> None:
        if self.metrics is not None:
            self.metrics.policy_files.set(len(self.files))
        if not self.state_file:
            return
        data = {
            "directory": self.directory,
            "files": {
                p: {"digest": st.digest, "policies": [list(k) for k in st.policies]}
                for p, st in sorted(self.files.items())
            },
            "pending": {
                p: {"digest": d, "policies": [list(k) for k in keys]}
                for p, (d, keys) in sorted(self.pending.items())
            },
        }
        tmp = f"{self.state_file}.tmp"
        try:
            os.makedirs(os.path.dirname(self.state_file) or ".", exist_ok=True)
            with open(tmp, "w") as f:
                json.dump(data, f, indent=1)
            os.replace(tmp, self.state_file)
        except OSError as e:
            log.warning("cannot write the controller state %s: %s", self.state_file, e)

    def owner(self, key: Key) -> str | None:
        for path, st in self.files.items():
            if key in st.policies:
                return path
        return None

    def _count(self, kind: str, since: float | None = None) -> None:
        if self.metrics is not None:
            self.metrics.done(kind, since, self.clock())

    def _fail(self, path: str, digest: str, kind: str, problems: list[str]) -> None:
        self.failed[path] = digest
        for p in problems:
            log.error("%s", p)
        st = self.files.get(path)
        if st is not None and st.policies:
            names = ", ".join(name for name, _ns in st.policies)
            log.error(
                "%s: not applied; the policies of its last good version keep running (%s)",
                path,
                names,
            )
        else:
            log.error("%s: not applied; no policy from it runs (none was loaded before)", path)
        if self.metrics is not None:
            self.metrics.error(kind)
        self.client.report_error("; ".join(problems)[:4000])

    def _loaded(self) -> set[Key] | None:
        """Policies the agent holds; None when it has no policy engine."""
        try:
            loaded = {(p.name, p.namespace) for p in self.client.list_policies()}
        except NoPolicyEngine:
            if self.engine is not False:
                log.warning(
                    "the agent has no tracing policy engine (ListTracingPolicies is not "
                    "implemented): policy files in %s are not applied",
                    self.directory,
                )
            self.engine = False
            return None
        if self.engine is not True:
            log.info("policy directory %s: applied to the agent", self.directory)
        self.engine = True
        return loaded

    # -- reconciling -----------------------------------------------------------------
    def sync(self, agent_start_time: float | None = None) -> None:
        """Reconcile every file of the directory with the agent's policies.

        Files whose policies the agent holds and that did not change since the agent
        started (it loads the directory itself at start) or since this controller applied
        them are left alone. Raises AgentUnavailable when the agent does not answer.
        """
        loaded = self._loaded()
        if loaded is None:
            return
        paths = scan(self.directory) if self.directory else []
        for path in paths:
            st = self.files.get(path)
            if st is not None and not set(st.policies) <= loaded:
                # the agent lost some (it restarted): apply the file again
                st.policies = [k for k in st.policies if k in loaded]
                st.digest = ""
            elif st is None and path in self.recovered:
                self._recover(path, loaded)
            elif st is None and agent_start_time is not None:
                self._adopt(path, loaded, agent_start_time)
            self._apply_file(path, loaded, None)
        for path in [p for p in self.files if p not in set(paths)]:
            self._remove(path, loaded, None)
        self._save_state()

    def _recover(self, path: str, loaded: set[Key]) -> None:
        """A file a killed controller was adding: if the agent holds every policy of
        that very version, it was applied and is not applied again."""
        digest, keys = self.recovered.pop(path)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError):
            return
        if keys and _digest(text) == digest and set(keys) <= loaded:
            if all(self.owner(k) is None for k in keys):
                self.files[path] = FileState(digest, keys)
                log.info(
                    "%s: policies %s were added before the controller restarted",
                    path, _names(keys),
                )  # fmt: skip

    def _adopt(self, path: str, loaded: set[Key], agent_start_time: float) -> None:
        """Take over a file the agent loaded by itself at start, if it did not change."""
        try:
            if os.stat(path).st_mtime > agent_start_time:
                return
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError):
            return
        if validate(path, text):
            return
        keys = [d.key for d in documents(path, text)]
        if keys and all(k in loaded and self.owner(k) is None for k in keys):
            self.files[path] = FileState(_digest(text), keys)
            log.info("%s: policies %s already loaded by the agent", path, _names(keys))

    def apply_path(self, path: str, since: float | None = None) -> None:
        """React to a change under ``path`` (a file or a directory, present or gone)."""
        if self.engine is False:
            return
        path = os.path.abspath(path)
        if self.directory and not (path == self.directory or path.startswith(self.directory + "/")):
            return
        loaded = self._loaded()
        if loaded is None:
            return
        if os.path.isdir(path):
            present = scan(path)
            for p in present:
                self._apply_file(p, loaded, since)
            gone = [p for p in self.files if p.startswith(path + "/") and p not in set(present)]
        else:
            self._apply_file(path, loaded, since)
            gone = [p for p in self.files if p.startswith(path + "/")]
        for p in gone:
            self._remove(p, loaded, since)
        self._save_state()

    def set_directory(self, directory: str) -> None:
        """Follow a new tracing-policy-dir: its policies in, then the old ones out."""
        directory = os.path.abspath(directory) if directory else ""
        if directory == self.directory:
            return
        log.info("policy directory: %s (was %s)", directory or "none", self.directory or "none")
        self.directory = directory
        self.sync()

    def _apply_file(self, path: str, loaded: set[Key], since: float | None) -> None:
        if not (is_policy_file(path) and os.path.isfile(path)):
            if path in self.files:
                self._remove(path, loaded, since)
            self.failed.pop(path, None)
            return
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except UnicodeDecodeError:
            self._fail(path, "", "policy_invalid", [f"{path}: not UTF-8 text"])
            return
        except OSError as e:
            if not os.path.exists(path):
                return self._apply_file(path, loaded, since)
            self._fail(path, "", "policy_invalid", [f"{path}: cannot read: {e.strerror}"])
            return
        digest = _digest(text)
        st = self.files.get(path)
        if st is not None and st.digest == digest:
            return
        if self.failed.get(path) == digest:
            return  # reported already; wait for the next version
        problems = validate(path, text)
        if problems:
            self._fail(path, digest, "policy_invalid", problems)
            return
        docs = documents(path, text)
        keys = [d.key for d in docs]
        clashes = []
        for k in keys:
            other = self.owner(k)
            if other is not None and other != path:
                clashes.append(
                    f"{path}: metadata.name: policy {k[0]} is already loaded from {other}"
                )
        if clashes:
            self._fail(path, digest, "policy_invalid", clashes)
            return

        old = list(st.policies) if st is not None else []
        held: list[Key] = []
        errors: list[str] = []
        adds = [d.key for d in docs if d.key not in old and d.key not in loaded]
        if adds and not old and len(adds) == len(keys):
            self.pending[path] = (digest, adds)
            self._save_state()
        try:
            for doc in docs:
                try:
                    if doc.key in old or doc.key in loaded:
                        self._replace(path, doc, since)
                    else:
                        try:
                            self.client.add_policy(doc.text)
                        except AgentRefused as e:
                            if isinstance(e, NoPolicyEngine) or "already exists" not in str(e):
                                raise
                            # loaded meanwhile (the agent read the directory at start)
                            self._replace(path, doc, since)
                        else:
                            self._count("policy_add", since)
                            log.info("%s: policy %s added", path, doc.name)
                    loaded.add(doc.key)
                    held.append(doc.key)
                except AgentRefused as e:
                    if isinstance(e, NoPolicyEngine):
                        raise
                    errors.append(_with_file(path, str(e)))
                    if doc.key in old:
                        held.append(doc.key)  # its last good version still runs
            for k in old:
                if k not in keys and k in loaded:
                    self._delete(path, k, since)
                    loaded.discard(k)
        except AgentUnavailable:
            self.files[path] = FileState("", sorted(set(held) | set(old)))
            if self.metrics is not None:
                self.metrics.error("agent_unreachable")
            raise
        finally:
            self.pending.pop(path, None)
        self.files[path] = FileState("" if errors else digest, held)
        if errors:
            self._fail(path, digest, "policy_rejected", errors)
        else:
            self.failed.pop(path, None)

    def _replace(self, path: str, doc: Document, since: float | None) -> None:
        self.client.replace_policy(doc.text, source=path)
        self._count("policy_replace", since)
        log.info("%s: policy %s replaced", path, doc.name)

    def _remove(self, path: str, loaded: set[Key], since: float | None) -> None:
        st = self.files.get(path)
        if st is None:
            return
        try:
            for k in list(st.policies):
                if k in loaded:
                    self._delete(path, k, since)
                    loaded.discard(k)
                st.policies.remove(k)
        except AgentUnavailable:
            if self.metrics is not None:
                self.metrics.error("agent_unreachable")
            raise
        del self.files[path]
        self.failed.pop(path, None)

    def _delete(self, path: str, key: Key, since: float | None) -> None:
        try:
            self.client.delete_policy(key[0], key[1])
        except NoPolicyEngine:
            raise
        except AgentRefused as e:
            if "not found" not in str(e):
                log.error("%s: cannot delete policy %s: %s", path, key[0], e)
                if self.metrics is not None:
                    self.metrics.error("policy_rejected")
                return
        self._count("policy_delete", since)
        log.info("%s: policy %s deleted", path, key[0])


def _names(keys: list[Key]) -> str:
    return ", ".join(k[0] if not k[1] else f"{k[1]}/{k[0]}" for k in keys)


def _with_file(path: str, message: str) -> str:
    return message if path in message else f"{path}: {message}"
