# Two entry points, each bootstrapping a fresh Debian machine:
#   make test  - unit and integration tests (tests/) and the conformance suite
#   make run   - the main job (svclab run)
# and the habits, checked first in CI:
#   make check - ruff (lint + format), mypy --strict, import-linter layers
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEBS := iptables nftables iproute2 ipvsadm ipset conntrack kmod user-mode-linux

.PHONY: test run check debs venv clean

debs:
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages: $$missing (run as root, or install them)" >&2; exit 1; fi; \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(STAMP)

# The conformance suite brings each testbed up and down itself (root needed).
TESTBEDS ?= clusters/iptables.yaml clusters/nftables.yaml clusters/userspace.yaml clusters/ipvs.yaml

# The testbeds' suites run side by side (they mostly wait for clusters to converge),
# one pytest each, logs in build/; each prints its summary, any failure fails the target.
# The mode-neutral tests (no `needs_proxy`: API server, endpoints controllers, pods,
# nodes) test the same code on every testbed: the host testbeds share them
# (`--neutral-share K/N`, as `svclab run` does) and the UML guest runs `-m needs_proxy`.
# The guest's suite is the longest (one slow CPU): it starts first, beside the unit
# tests, and leaves out the `breadth` tests and, of the `disruption` area (~9 min there),
# all but the mode-specific fault samples (rules and conntrack flushed, ~1.6 min): the
# API server faults test the same watch code in every mode, and the host testbeds run them.
# The host testbeds' suites start once the unit tests end.
# The unit tests run as two pytests side by side: those that bring up clusters, the rest.
# The unit tests that bring up whole local clusters (root) run beside the others.
CLUSTER_TESTS := tests/testbed tests/conformance_harness
UML_TESTBEDS ?= clusters/ipvs.yaml
HOST_TESTBEDS = $(filter-out $(UML_TESTBEDS),$(TESTBEDS))
GUEST_TESTBEDS = $(filter $(UML_TESTBEDS),$(TESTBEDS))
test: debs venv
	@mkdir -p build; pids=""; \
	suite() { log=build/conformance-$$(basename $$1 .yaml).log; tb_file=$$1; shift; \
	  $(BIN)/pytest -p no:cacheprovider -q -rfEsR conformance --testbed $$tb_file "$$@" >$$log 2>&1 & pids="$$pids $$!:$$log"; }; \
	for tb in $(GUEST_TESTBEDS); do suite $$tb -m "needs_proxy and not breadth and (not disruption or fault_sample)" \
	  -k "not test_disruption_apiserver"; done; \
	rc=0; $(BIN)/pytest -p no:cacheprovider -q -rfEsR $(CLUSTER_TESTS) >build/tests-clusters.log 2>&1 & clusters=$$!; \
	$(BIN)/pytest -p no:cacheprovider -q -rfEsR tests $(CLUSTER_TESTS:%=--ignore=%) || rc=1; \
	wait $$clusters || { rc=1; sed -n '/^=* \(ERRORS\|FAILURES\) =*$$/,$$p' build/tests-clusters.log | head -n 25; }; \
	echo "== build/tests-clusters.log:"; grep -E "^(FAILED|ERROR)|passed|failed" build/tests-clusters.log | tail -n 40; \
	k=0; n=$(words $(HOST_TESTBEDS)); \
	for tb in $(HOST_TESTBEDS); do suite $$tb --neutral-share $$k/$$n; k=$$((k + 1)); done; \
	for entry in $$pids; do \
	  pid=$${entry%%:*}; log=$${entry#*:}; \
	  if wait $$pid; then echo "== $$log: ok"; else rc=1; echo "== $$log: FAILED, its first failure:"; \
	    sed -n '/^=* \(ERRORS\|FAILURES\) =*$$/,$$p' $$log | head -n 25; fi; \
	  grep -E "^(FAILED|ERROR|SKIPPED|RERUN)|passed|failed|error" $$log | tail -n 40; \
	done; exit $$rc

SOURCES := implementation tests conformance loadtests

check: venv
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)
	$(BIN)/mypy
	$(BIN)/lint-imports

run: debs venv
	$(BIN)/svclab run

clean:
	rm -rf $(VENV) build *.egg-info implementation/*.egg-info
