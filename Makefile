# The contract's three commands; see README.md.
VENV   ?= .venv
PYTHON ?= python3
FLASK  := $(VENV)/bin/flask --app wsgi
STAMP  := $(VENV)/.installed

.PHONY: install run test lint

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: install
	$(FLASK) db upgrade
	$(FLASK) academy content sync
	@mkdir -p instance
	@# One worker with an embedded beat for development; production runs beat on its own.
	@# Ctrl-C (or TERM) stops the web server, the worker and beat together.
	@trap 'kill $$web $$worker 2>/dev/null; wait' INT TERM EXIT; \
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
