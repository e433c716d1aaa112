# The README's two commands: `make run` and `make test`. Each does its own set-up on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Every link the portal writes (e-mails, feeds, API problem types) names the address it is served on.
CALLKOM_PUBLIC_URL ?= http://$(HOST):$(PORT)
# The suite runs on every core (pytest-xdist); PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?=
export HOST PORT CALLKOM_PUBLIC_URL

.PHONY: run test setup test-setup sysdeps venv dev-venv migrate translations demo lint clean

run: setup migrate demo
	@echo "CALLKOM on $(CALLKOM_PUBLIC_URL)/ (web, worker and beat; Ctrl-C stops all three)"
	@exec $(PY) -m callkom.run

test: test-setup
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

setup: sysdeps venv translations

test-setup: setup dev-venv

# System packages from Debian: Chromium for the browser tests, gettext for the translation catalogues, faketime
# for running the date-sensitive tests at other dates (.ci/run).
sysdeps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v msgfmt >/dev/null 2>&1 || missing="$$missing gettext"; \
	command -v faketime >/dev/null 2>&1 || missing="$$missing faketime"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "Please install these Debian packages:$$missing"; exit 1; fi; \
	fi

venv: $(VENV)/.installed

dev-venv: $(VENV)/.installed-dev

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

translations: venv
	$(PY) manage.py compilemessages --ignore '.venv/*' --ignore 'var/*' --verbosity 0

migrate: venv
	$(PY) manage.py migrate --noinput --verbosity 0
	$(PY) manage.py setup_periodic_tasks

demo: migrate
	$(PY) manage.py seed_demo

lint: dev-venv
	$(PY) -m ruff check .
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var
