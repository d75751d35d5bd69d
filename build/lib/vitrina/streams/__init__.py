"""Streams are declared once (built-in here, user streams in the config file); validation,
DDL, rollups, OpenAPI schemas and docs are derived from the declarations."""

from vitrina.streams.declare import Aggregate, Rollup, Stream, parse_stream
from vitrina.streams.fields import DeclarationError, Field

__all__ = ["Aggregate", "DeclarationError", "Field", "Rollup", "Stream", "parse_stream"]
