#!/usr/bin/env bash
# Deploys the same CDK app that goes to AWS into a running LocalStack (docker compose up -d first),
# then seeds the demo clinics into it and says how to get a token. Walkthrough: docs/localstack.md.
# cdklocal wraps a pinned CDK CLI 2.x (the unpinned 3.0 rejects current cloud assemblies).
set -euo pipefail
cd "$(dirname "$0")/.."
# localhost.localstack.cloud resolves to 127.0.0.1 on the host and to LocalStack inside its Lambda
# containers, so the addresses the stage hands its functions (JWKS, issuer) work in both places.
endpoint="${AWS_ENDPOINT_URL:-http://localhost.localstack.cloud:4566}"
stage="${STAGE:-local}"
if ! curl -fsS "$endpoint/_localstack/health" >/dev/null; then
  echo "LocalStack is not answering at $endpoint: run 'docker compose up -d' first" >&2
  exit 1
fi
export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" AWS_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export CDK_HOME="$PWD/.cairn/cdk-home-localstack"   # the CLI caches access key -> account per home
mkdir -p "$CDK_HOME"
cdk=(npx --yes -p aws-cdk@2.1148.1 -p aws-cdk-local@3.0.4 cdklocal)
"${cdk[@]}" bootstrap --app ".venv/bin/python app.py" -c stage="$stage"
"${cdk[@]}" deploy --all --require-approval never --app ".venv/bin/python app.py" -c stage="$stage"
echo "Deployed stage $stage into LocalStack at $endpoint; seeding the demo clinics."
# Prints the API URL, the demo users and the token command; AWS_ENDPOINT_URL is the one setting.
.venv/bin/cairn seed --stage "$stage"
