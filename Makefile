# The README's two commands: `make run` and `make test`. Each does its own set-up on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test setup sysdeps venv migrate translations demo lint clean

run: setup migrate demo
	@echo "CALLKOM on http://$(HOST):$(PORT)/ (web, worker and beat; Ctrl-C stops all three)"
	@trap 'kill 0' INT TERM; \
	$(VENV)/bin/celery -A callkom worker --loglevel INFO --concurrency 2 & \
	$(VENV)/bin/celery -A callkom beat --loglevel INFO & \
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) callkom.asgi:application & \
	wait

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

setup: sysdeps venv translations

# System packages from Debian: Chromium for the browser tests, gettext for the translation catalogues.
sysdeps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v msgfmt >/dev/null 2>&1 || missing="$$missing gettext"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "Please install these Debian packages:$$missing"; exit 1; fi; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

translations: venv
	$(PY) manage.py compilemessages --ignore '.venv/*' --ignore 'var/*' --verbosity 0

migrate: venv
	$(PY) manage.py migrate --noinput --verbosity 0
	$(PY) manage.py setup_periodic_tasks

demo: migrate
	$(PY) manage.py seed_demo

lint: venv
	$(PY) -m ruff check .
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var
