# Front door. Everything needs root for the test fleet (network namespaces, debootstrap).
#   make demo    boot test VMs, break them, run fix-backup.yml in check mode, apply, apply again
#   make test    the whole test suite (what CI runs)
#   make bench   fix-backup.yml against the hand-written baseline on fleets of 10, 25 and 50 VMs
VENV ?= .venv
PYTHON ?= python3
SANITY_REQS = $(VENV)/lib/python3*/site-packages/ansible_test/_data/requirements

.PHONY: setup system-packages demo test bench clean
setup: $(VENV)/.installed $(VENV)/sanity/.installed
	tests/winsim/install-ansible-windows

$(VENV)/.installed: requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt -r requirements-test.txt
	touch $@

# ansible-test's sanity tools pin their own versions: a venv of their own, same ansible-core.
$(VENV)/sanity/.installed: $(VENV)/.installed
	$(PYTHON) -m venv $(VENV)/sanity
	$(VENV)/sanity/bin/pip install --quiet "ansible-core==$$($(VENV)/bin/python -c 'import ansible; print(ansible.__version__)')" \
	    $$(cat $(SANITY_REQS)/sanity.*.txt | grep -v '^#' | sort -u)
	touch $@

system-packages:
	tests/fleet/install-packages

demo: setup system-packages
	tests/demo

test: setup system-packages
	tests/run

# Long (an hour or more for all sizes); BENCH_ARGS="--sizes 25 --runs 1" for a quick look.
bench: setup system-packages
	$(VENV)/bin/pip install --quiet -r bench/requirements.txt
	$(VENV)/bin/python bench/fleet-bench $(BENCH_ARGS)

clean:
	tests/fleet/fleet down
	rm -rf $(VENV) .cache reports
