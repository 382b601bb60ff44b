# Each target sets up the project's environment (.venv) first if it is missing.
VENV ?= .venv
PY := $(VENV)/bin/python
export PYTHONWARNINGS ?= ignore::DeprecationWarning,ignore::UserWarning,ignore::FutureWarning

.PHONY: env test demo clean

env:
	@bash tools/setup_env.sh

test: env
	$(PY) -m pytest tests -q -x -p no:cacheprovider $(PYTEST_ARGS)

demo: env
	$(PY) tools/quickstart.py $(DEMO_ARGS)

clean:
	rm -rf work_dirs outputs
