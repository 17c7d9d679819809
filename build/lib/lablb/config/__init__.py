"""keepalived.conf: parse (``parse``, ``load``), model, diagnostics and lint. Pure."""

from lablb.config.diagnostics import Diagnostic, Severity, Where
from lablb.config.load import Parsed, load, parse
from lablb.config.model import KeepalivedConfig

__all__ = ["Diagnostic", "KeepalivedConfig", "Parsed", "Severity", "Where", "load", "parse"]
