# The two commands of the README, and a few helpers. Everything runs inside .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DAY ?= 2015-03-02
export PREFECT_HOME ?= $(CURDIR)/var/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: demo test lint messages install system-deps bench clean

$(BIN)/roadmap: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,msproject]"
	touch $@

install: $(BIN)/roadmap

# The main job on the embedded default: SQLite in var/, mail to var/outbox, reports to var/reports.
# A demo key signs the action links in the demo mail (yours, when ROADMAP_SECRET_KEY is set);
# never use it for real mail: anyone who reads this file could sign links with it.
demo: export ROADMAP_SECRET_KEY ?= demo-key-for-make-demo-only-not-secret
demo: install
	$(BIN)/roadmap validate examples/open-workshop-moscow.yaml
	$(BIN)/roadmap import examples/open-workshop-moscow.yaml
	$(BIN)/roadmap status --as-of $(DEMO_DAY)
	$(BIN)/roadmap remind --as-of $(DEMO_DAY)
	$(BIN)/roadmap escalate --as-of $(DEMO_DAY)
	$(BIN)/roadmap report --as-of $(DEMO_DAY)
	@echo "Mail for $(DEMO_DAY) is in $(CURDIR)/var/outbox ($$(ls var/outbox | wc -l) .eml files); reports in $(CURDIR)/var/reports"

# The whole test suite, on SQLite and on PostgreSQL (ROADMAP_TEST_POSTGRES_URL, default the local server).
test: install system-deps lint
	@mkdir -p "$(PREFECT_HOME)"
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# Debian's chromium (the browser test drives it with Playwright; never `playwright install`),
# LibreOffice Writer (the report's PDF test) and Calc (workbooks saved by LibreOffice,
# tests/test_xlsx_roundtrip.py), and a Java runtime (MPXJ, for MS Project files). Installed when
# missing and we may (root); the tests that need them skip with a reason otherwise.
CALC := /usr/lib/libreoffice/program/libsclo.so
system-deps:
	@if [ -x /usr/bin/chromium ] && command -v soffice >/dev/null 2>&1 && [ -e $(CALC) ] && command -v java >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q chromium libreoffice-writer-nogui libreoffice-calc-nogui default-jre-headless; \
	else echo "note: chromium, LibreOffice (Writer, Calc) or java missing and not root: the tests that need them will skip"; fi

# After changing a message in code or templates: extract them and update the Russian catalog
# (then translate the new entries in locale/ru/LC_MESSAGES/messages.po; tests/test_i18n.py checks).
messages: install
	$(BIN)/pybabel extract -F babel.cfg -o var/messages.pot .
	$(BIN)/pybabel update -i var/messages.pot -d locale -D messages --no-fuzzy-matching

bench: install
	$(BIN)/python bench/bench_import.py
	$(BIN)/python bench/bench_remind.py
	$(BIN)/python bench/bench_report.py
	$(BIN)/python bench/bench_prefect.py
	$(BIN)/python bench/bench_web.py
	$(BIN)/python bench/bench_xlsx.py

clean:
	rm -rf var .pytest_cache .hypothesis
