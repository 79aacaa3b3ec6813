#!/usr/bin/env bash
# Set up (first run only), generate labelled demo logs, hunt them, print top findings + metrics.
source "$(dirname "$0")/_env.sh" demo
exec .venv/bin/loghunt demo "$@"
