"""`load-posthog verify`: proof of delivery, PostHog's counts against the warehouse's."""
