"""`load-posthog export`: the contract views as files for PostHog's managed import (S3 source,
content type `posthog`), read, checkpointed and quarantined exactly as a capture load."""
