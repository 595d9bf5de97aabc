from posthog_migrate_fetch.cli import main

main()
