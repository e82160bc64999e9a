from tests.server.auth.conftest import fixture_owner

__all__ = ["fixture_owner"]
