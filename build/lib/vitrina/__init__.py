"""vitrina: a self-hosted telemetry and analytics pipeline for online marketplaces."""

__version__ = "0.1.0"
