#!/bin/sh
# Nightly sync: build the views, load what is new since last night, prove PostHog has it.
# Exits with the code of the first step that fails (docs/scheduling.md: which codes to alert on).
#
# Settings come from the environment (or an env file the cron line sources):
#   POSTHOG_API_KEY, POSTHOG_PERSONAL_API_KEY, POSTHOG_PROJECT_ID   PostHog keys and project
#   POSTHOG_HOST, POSTHOG_API_HOST                                 capture and app hosts (US cloud if unset)
#   DBT_TARGET and whatever profiles.yml reads                     the warehouse
#   POSTHOG_MIGRATE_DIR   the project (default: this repository);  VERIFY_WAIT   default 30m
set -eu

project=${POSTHOG_MIGRATE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${POSTHOG_MIGRATE_BIN:-$project/.venv/bin}
reports=$project/target

cd "$project"
"$bin/dbt" build --project-dir "$project"
"$bin/load-posthog" --project-dir "$project" --report "$reports/posthog_load.json"
"$bin/load-posthog" verify --project-dir "$project" --wait "${VERIFY_WAIT:-30m}" \
    --report "$reports/posthog_verify.json"
