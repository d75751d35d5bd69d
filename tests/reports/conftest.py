"""The real services the report tests need (moto's S3), shared with the transport tests."""

from tests.log.conftest import moto, services  # noqa: F401  (pytest fixtures)
