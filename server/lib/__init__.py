"""Cross-cutting services: errors, logs, tracing, metrics, security, idempotency, rate limits,
events, capabilities, queues."""
