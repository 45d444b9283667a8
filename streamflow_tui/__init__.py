"""StreamFlow console: live traffic, latency, model output and drift of a prediction service."""
