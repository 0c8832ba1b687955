"""The daemon's optional HTTP endpoint: acknowledge links, and later the API and /metrics."""
