"""Load the posthog_* contract views into PostHog's capture API, resumably and without loss."""

__version__ = "0.1.0"
