"""Exception types: every user-facing error is one clear line naming the problem and the fix."""

from __future__ import annotations


class SrLoraError(ValueError):
    """Bad input to srlora_utils (wrong shape, NaN weights, budget too small, ...)."""


class BackboneUnavailableError(SrLoraError, RuntimeError):
    """Backbone weights cannot be had here (no network, missing package, unknown model)."""
