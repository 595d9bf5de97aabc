from posthog_loader.cli import main

main()
