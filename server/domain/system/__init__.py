"""Health, readiness, metrics: what operators and load balancers ask."""
