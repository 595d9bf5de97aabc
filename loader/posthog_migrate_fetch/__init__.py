"""`posthog-migrate-fetch`: download a source's export files where dbt can read them as they lie."""
