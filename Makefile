# Everything runs as root on a fresh Debian machine: each target installs what it needs.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: system venv test lint unit run bench clean

system:
	bash scripts/install-system.sh

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: system $(STAMP)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy mch_link fleet_simulator central_hub provisioning mqtt_broker_config kiosk fetal_monitor_station county_simulator acquirer_simulator bench

test: venv
	bash scripts/start-test-services.sh
	$(MAKE) lint
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

unit: venv
	$(VENV)/bin/python -m pytest -m "not integration and not ui and not slow" $(PYTEST_ARGS)

run: venv
	bash scripts/start-test-services.sh
	$(PY) scripts/run_system.py

bench: venv
	bash scripts/start-test-services.sh
	for b in $$(ls bench/*.py | grep -v __init__ | sed 's#bench/##; s#\.py##'); do \
		case $$b in _*) continue;; esac; \
		$(PY) -m bench.$$b || exit 1; \
	done

clean:
	rm -rf $(VENV) .run build *.egg-info
