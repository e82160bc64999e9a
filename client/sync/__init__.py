"""The client's sync: wire shapes of pull/bootstrap/push and the engine that drives them."""
