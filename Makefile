# Common commands. `make setup` installs everything; `make test` runs the test suite.
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup bpf test unit integration lint format run bench vm-test proto clean \
	image docker-test install uninstall k8s-cluster-build k8s-test k8s-bench rthooks-test dist \
	streams-test bench-memory \
	fuzz

setup:
	./scripts/setup.sh

bpf:
	$(MAKE) -s -C bpf

# unit tests, the integration tests that load real BPF and the runtime hook tests with a
# real runc (a few seconds; they skip, saying why, where runc or podman is missing), as root
test: bpf
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(SUDO) $(PY) -m pytest -q tests/unit tests/integration tests/rthooks

unit:
	$(PY) -m pytest -q tests/unit

# the property-based tests of the policy validator, compiler and settings parser with
# FUZZ_EXAMPLES random examples each (make test runs a fixed, small number of them)
FUZZ_EXAMPLES ?= 3000
fuzz:
	FUZZ_PROFILE=long FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider \
		--hypothesis-show-statistics tests/unit/test_fuzz_policies.py tests/unit/test_fuzz_settings.py

integration: bpf
	$(SUDO) $(PY) -m pytest -q -m integration tests/integration

# a one-node Kubernetes for tests/k8s (binaries cached in $${KUBE_TEST_CACHE:-~/.cache/k8s-test})
k8s-cluster-build:
	$(SUDO) tests/k8s/cluster.sh build
	$(SUDO) tests/k8s/cluster.sh images


lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format:
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# the agent from the checkout, with its defaults
run: bpf
	$(SUDO) $(VENV)/bin/tetragon --export-filename /var/log/tetragon/tetragon.log

bench: bpf
	$(SUDO) $(PY) bench/exec_throughput.py

# idle RSS, RSS after 100k execs, CPU and BPF run time per exec (bench/agent_memory.py)
bench-memory: bpf
	$(SUDO) $(PY) bench/agent_memory.py

# 50 GetEvents streams coming and going for a minute during an exec storm (make test runs
# the same test for 10 s)
streams-test: bpf
	$(SUDO) env TETRAGON_STREAMS_FAULT_S=60 $(PY) -m pytest -q -s \
		tests/integration/test_grpc_streams_fault.py

# the kernel-facing integration tests (process lifecycle, policies, kernel hooks, start-up
# errors, credentials, ancestors, redaction) on Debian kernels 5.10, 6.1, 6.12 and sid in
# QEMU; VM_TESTS selects others
VM_TESTS ?= tests/integration/test_process_lifecycle.py tests/integration/test_policies.py \
	tests/integration/test_policies_kernel_hooks.py tests/integration/test_startup_errors.py \
	tests/integration/test_process_cred_ns.py tests/integration/test_ancestors.py \
	tests/integration/test_redaction.py tests/integration/test_policies_network.py \
	tests/integration/test_policies_kernel_args.py tests/integration/test_policies_return_actions.py \
	tests/integration/test_policies_uprobes.py tests/integration/test_policies_tracepoint_types.py \
	tests/integration/test_policies_operators.py
vm-test: bpf
	$(SUDO) $(PY) tests/vm/matrix.py --python $(PY) --timeout 1500 \
		--pytest-args "-m integration $(VM_TESTS) -q -rA"

# the runtime hook with real runtimes (runc); skips with the reason when one is missing
rthooks-test:
	$(SUDO) $(PY) -m pytest -q -rs tests/rthooks

proto:
	./scripts/gen-proto.sh

# the appliance image (images/Dockerfile), rebuilt only when its sources changed
image:
	$(SUDO) ./images/build.sh

# builds the image if needed, runs it as the README shows and checks it
docker-test:
	$(SUDO) $(PY) -m pytest -q -m docker tests/docker

# pod identity on a real cluster (tests/k8s; TETRAGON_TEST_KUBECONFIG names a running one,
# else the tests start one with tests/k8s/cluster.sh when it is built, or skip saying why)
k8s-test: bpf
	$(SUDO) $(PY) -m pytest -q -m k8s tests/k8s

k8s-bench: bpf
	$(SUDO) $(PY) bench/k8s_identity.py

# the agent and controller as systemd services under /usr/local (see install.sh --help)
install: bpf
	$(SUDO) ./install.sh

uninstall:
	$(SUDO) ./uninstall.sh

# the release tarball dist/tetragon-<version>-<arch>.tar.gz (install.sh, uninstall.sh and what
# they install; see scripts/dist.sh)
dist: bpf
	PYTHON=$(PY) ./scripts/dist.sh

clean:
	$(MAKE) -C bpf clean
