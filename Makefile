# The two set-up commands of the README, and a few more.  Each target creates or updates the
# local virtual environment .venv with what it needs (re-installed when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-k schema"`.
PYTEST_ARGS ?=

.PHONY: demo test test-slow lint schema models clean

$(VENV)/.installed-%: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[$*]'
	touch $@

DEMO_MODEL = "$$($(BIN)/python tools/fetch_models.py)/pose_landmark_full.tflite"

## demo: train the digits CNN into a bundle, convert it, compare it with LiteRT; fetch a real
## model, inspect it, check the format round trip, run it, compare with LiteRT
demo: $(VENV)/.installed-demo
	$(BIN)/python examples/train_digits.py --out digits_bundle
	$(BIN)/emberlite convert digits_bundle -o digits.tflite
	$(BIN)/emberlite parity digits.tflite
	$(BIN)/python tools/fetch_models.py
	$(BIN)/emberlite inspect $(DEMO_MODEL)
	$(BIN)/emberlite check $(DEMO_MODEL)
	$(BIN)/emberlite run $(DEMO_MODEL) --num-threads 2 -o demo-out
	$(BIN)/emberlite parity $(DEMO_MODEL)

## test: the default suite (what CI runs)
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## test-slow: the long suites too (long fuzzing runs)
test-slow: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m "slow or not slow" $(PYTEST_ARGS)

models: $(VENV)/.installed-test
	$(BIN)/python tools/fetch_models.py --list

## schema: regenerate emberlite/schema/model_generated.py and model_layout.py from model.fbs
schema: $(VENV)/.installed-test
	$(BIN)/python tools/gen_schema.py

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check emberlite tests tools

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
