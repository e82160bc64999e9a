"""Sandbox servers: local stand-ins speaking vendors' HTTP protocols on 127.0.0.1 (dev and tests)."""
