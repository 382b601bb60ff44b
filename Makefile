# Each target sets up the project's environment (.venv) first if it is missing.
VENV ?= .venv
PY := $(VENV)/bin/python
export PYTHONWARNINGS ?= ignore::DeprecationWarning,ignore::UserWarning,ignore::FutureWarning

.PHONY: env test demo webui clean

env:
	@bash tools/setup_env.sh

# pytest exits 5 when it collects no test: not a failure of the suite itself; the tests run
# on PYTEST_WORKERS processes (pytest-xdist; a test module stays in one worker)
PYTEST_WORKERS ?= auto
test: env
	$(PY) -m pytest tests -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$rc

# the embedded demo: SDPT on the committed tiny GLIP base, generated shapes, ~3 min on CPU
demo: env
	$(PY) tools/train.py configs/sdpt/demo_tiny-glip_synthetic.py --work-dir work_dirs/demo $(DEMO_ARGS)

# the web page on the demo's base and adapter (runs the demo first if its adapter is missing)
webui: env
	@[ -f work_dirs/demo/iter_300.pth ] || $(MAKE) demo
	$(PY) tools/webui.py $(WEBUI_ARGS)

clean:
	rm -rf work_dirs outputs data/demo
