# Each target sets up the project's environment (.venv) first if it is missing.
VENV ?= .venv
PY := $(VENV)/bin/python
export PYTHONWARNINGS ?= ignore::DeprecationWarning,ignore::UserWarning,ignore::FutureWarning

.PHONY: env test demo clean

env:
	@bash tools/setup_env.sh

# pytest exits 5 when it collects no test: not a failure of the suite itself
test: env
	$(PY) -m pytest tests -q -p no:cacheprovider $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$rc

demo: env
	$(PY) tools/quickstart.py $(DEMO_ARGS)

clean:
	rm -rf work_dirs outputs
