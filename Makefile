# smlaunch developer entry points. Every target installs the pinned venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOOLKIT_VENV := .venv-toolkit
TOOLKIT_STAMP := $(TOOLKIT_VENV)/.installed
CONFIG ?= configs/local.yaml
SET ?=
SET_ARGS := $(foreach item,$(SET),--set $(item))
DATA := data/digits/train.npz
PYTEST_ARGS ?= -n 2 --dist loadgroup  # 2 workers (the Docker tests together on one); PYTEST_ARGS= runs serially

.PHONY: install run validate data docs tables test lint sweep bench ui build push lock clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

$(TOOLKIT_STAMP): tests/toolkit/requirements.txt
	$(PYTHON) -m venv $(TOOLKIT_VENV)
	$(TOOLKIT_VENV)/bin/python -m pip install --quiet -r tests/toolkit/requirements.txt
	touch $(TOOLKIT_STAMP)

$(DATA): | $(STAMP)
	$(BIN)/python -m train.digits.prepare --out data/digits

data: $(DATA) ## write the digits train/validation splits under data/

# the example's data, for the configs that read it (your own task's config does not wait for it)
CONFIG_DATA = $(if $(shell grep -ls 'data/digits' $(CONFIG)),$(DATA))

run: $(STAMP) $(CONFIG_DATA) ## make run CONFIG=configs/x.yaml SET="k=v k2=v2"
	$(BIN)/smlaunch run $(CONFIG) $(SET_ARGS)

validate: $(STAMP)
	$(BIN)/smlaunch validate $(CONFIG) $(SET_ARGS)

docs: $(STAMP) ## regenerate docs/configuration.md and schemas/tasks/*.schema.json from the schemas
	$(BIN)/smlaunch schema --markdown > docs/configuration.md
	$(BIN)/smlaunch schema --write-tasks schemas/tasks

tables: $(STAMP) ## regenerate SageMaker's API table from botocore, moto's EC2 instance data and the SageMaker SDK
	$(BIN)/python -m launcher.config.sagemaker_api

test: $(STAMP) $(TOOLKIT_STAMP) ## the whole suite; starts and stops every service it needs
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff, mypy, hadolint (Dockerfile), shellcheck (scripts)
	$(BIN)/ruff check launcher train tests
	$(BIN)/mypy
	$(BIN)/hadolint docker/Dockerfile
	$(BIN)/shellcheck docker/build_and_push.sh .ci/run

sweep: $(STAMP) $(DATA) ## a local grid sweep of the digits example (SWEEP=configs/sweeps/x.yaml to change)
	$(BIN)/smlaunch sweep $(or $(SWEEP),configs/sweeps/digits-grid.yaml)

bench: $(STAMP) $(DATA) ## median wall times of validate and of a full local smoke run
	$(BIN)/python -m tests.bench

ui: $(STAMP) ## the MLflow UI for CONFIG's tracking store on http://127.0.0.1:5000
	@uri=$$($(BIN)/smlaunch validate $(CONFIG) --output json | $(BIN)/python -c 'import json,sys; print(json.load(sys.stdin)["tracking_uri"])'); \
	case "$$uri" in \
	  http://*|https://*) echo "$(CONFIG) tracks to a server: open $$uri" ;; \
	  *) $(BIN)/mlflow ui --backend-store-uri "$$uri" --host 127.0.0.1 --port 5000 ;; \
	esac

build: ## build the training image (smlaunch-train:<git sha> and :latest); BASE_IMAGE=... to change the base
	docker/build_and_push.sh --no-push -t latest $(if $(BASE_IMAGE),--base-image $(BASE_IMAGE))

push: ## build, push to ECR (created when missing) and print the digest URI for sagemaker.image
	docker/build_and_push.sh -t latest

lock: ## re-resolve the pins from pyproject.toml into requirements.lock
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -e '.[dev,data,sagemaker,train]'
	{ echo "# Exact pins for the development venv (make install). Regenerate with: make lock"; \
	  .lock-venv/bin/pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) $(TOOLKIT_VENV) .mypy_cache .ruff_cache .pytest_cache .smlaunch outputs data *.egg-info
