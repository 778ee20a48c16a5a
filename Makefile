# The contract's three commands; see README.md.
VENV   ?= .venv
PYTHON ?= python3
FLASK  := $(VENV)/bin/flask --app wsgi
STAMP  := $(VENV)/.installed

.PHONY: install run test lint

install: $(STAMP)

# Safe to start twice at once (`make run` still installing when `make test` starts): the second
# waits for the lock, then finds the stamp fresh and does nothing. The lock is Python's fcntl, not
# flock(1), which macOS lacks; a fresh machine is promised to need nothing but Python.
LOCKED := $(PYTHON) -c 'import fcntl, signal, subprocess, sys; \
	signal.signal(signal.SIGINT, signal.SIG_DFL); lock = open(sys.argv[1], "a"); \
	fcntl.flock(lock, fcntl.LOCK_EX); sys.exit(subprocess.call(sys.argv[2:]))'

$(STAMP): pyproject.toml
	@mkdir -p $(VENV)
	@$(LOCKED) $(VENV)/.install.lock sh -ec '\
	  if [ $(STAMP) -nt pyproject.toml ]; then exit 0; fi; \
	  test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV); \
	  echo "installing into $(VENV)"; \
	  $(VENV)/bin/python -m pip install --quiet --upgrade pip; \
	  $(VENV)/bin/python -m pip install --quiet -e ".[test]"; \
	  touch $(STAMP)'

run: install
	$(FLASK) db upgrade
	$(FLASK) academy content sync
	@mkdir -p instance
	@# One worker with an embedded beat for development; production runs beat on its own.
	@# Ctrl-C (or TERM) stops the web server, the worker and beat together, and ends quietly
	@# (status 0); if the web server ends by itself (a port in use), its status is kept.
	@trap 'kill $$web $$worker 2>/dev/null; wait; exit 0' INT TERM; \
	trap 'kill $$web $$worker 2>/dev/null; wait' EXIT; \
	$(VENV)/bin/celery -A worker worker --beat --loglevel=info --concurrency=2 \
	  --schedule instance/celerybeat-schedule & worker=$$!; \
	$(FLASK) run --host 127.0.0.1 --port 5000 & web=$$!; \
	wait $$web

test: install
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# Not part of the contract: ruff over everything but Alembic's generated files (CI runs it).
lint: install
	$(VENV)/bin/ruff check .

# Not part of the contract: the benchmark suite (bench/README.md); SIZES=100000 for a shorter run.
.PHONY: bench
bench: install
	$(VENV)/bin/python bench/run.py $(if $(SIZES),--sizes $(SIZES)) $(BENCH_ARGS)
