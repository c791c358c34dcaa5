#!/usr/bin/env bash
# Long form of the SIGKILL harness: 200 random kills during scrub of a tree
# of text, gzip, zip and Parquet files full of PANs (CI runs a short form of
# the same test).
set -euo pipefail
cd "$(dirname "$0")/.."
PANSCRUB_CRASH_ITERATIONS=${PANSCRUB_CRASH_ITERATIONS:-200} \
  cargo test --release --test tests sigkill_during_scrub_never_loses_data -- --nocapture
