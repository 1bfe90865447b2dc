# Cairn's two commands: `make dev` runs Cairn, `make test` passes the tests.
# Both start from a fresh clone: they create .venv and install what they need.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LAMBDA_DEPS := build/lambda-deps/cairn-manifest.json
ICD10 := layers/cairn/claims/data/icd10cm.txt.gz
API_PORT ?= 8080
EMULATOR_PORT ?= 4566
CDK_CLI := aws-cdk@2.1148.1

.PHONY: dev test install lambda-deps icd10 system-packages lint typecheck unit integration infra e2e synth bench \
        deploy-localstack deploy-aws clean

## make dev: install, start the embedded stack with the demo clinics, print URLs and logins
dev: $(STAMP) $(ICD10)
	$(BIN)/cairn dev --api-port $(API_PORT) --emulator-port $(EMULATOR_PORT)

## make test: install everything (system packages too), then lint, type-check and run every test level
test: $(STAMP) $(LAMBDA_DEPS) $(ICD10) system-packages
	$(BIN)/ruff check .
	$(BIN)/mypy
	@bash scripts/pytest.sh tests

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Cairn needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,cdk]'
	touch $(STAMP)

install: $(STAMP)

## The dependency layer's content: manylinux2014 wheels the Lambda runtime loads (needs PyPI; synth doesn't)
$(LAMBDA_DEPS): pyproject.toml $(STAMP)
	$(BIN)/python scripts/build_lambda_deps.py

lambda-deps: $(LAMBDA_DEPS)

## The ICD-10-CM lookup claims are coded against, built from the CMS tabular list simple-icd-10-cm ships
$(ICD10): scripts/build_icd10_lookup.py $(STAMP)
	$(BIN)/python scripts/build_icd10_lookup.py

icd10: $(ICD10)

## Node.js runs the CDK (jsii) during synth; installed from Debian when missing.
system-packages:
	@command -v node >/dev/null 2>&1 || { \
	  echo "node is missing: installing nodejs from Debian"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs; }

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	@bash scripts/pytest.sh tests/unit

integration: $(STAMP)
	@bash scripts/pytest.sh tests/integration

infra: $(STAMP) $(LAMBDA_DEPS) $(ICD10) system-packages
	@bash scripts/pytest.sh tests/infra

e2e: $(STAMP)
	@bash scripts/pytest.sh tests/e2e

## make synth: synthesize the CDK app (both nag packs applied) into cdk.out
synth: $(STAMP) $(LAMBDA_DEPS) $(ICD10) system-packages
	$(BIN)/python app.py

## make bench: the benchmarks (run by hand; figures go in the README)
bench: $(STAMP)
	$(BIN)/python -m bench.patient_slice

## Deploy the same CDK app into LocalStack and seed it (needs Docker and LOCALSTACK_AUTH_TOKEN; see docs/localstack.md)
deploy-localstack: $(STAMP) $(LAMBDA_DEPS) $(ICD10)
	bash scripts/deploy-localstack.sh

## Deploy to AWS with the pinned CDK CLI (needs AWS credentials; STAGE=prod by default)
deploy-aws: $(STAMP) $(LAMBDA_DEPS) $(ICD10) system-packages
	npx --yes $(CDK_CLI) deploy --all --require-approval broadening -c stage=$${STAGE:-prod} --app "$(BIN)/python app.py"

clean:
	rm -rf cdk.out build .cairn .pytest_cache .mypy_cache .ruff_cache
