"""Exceptions shared by the derivative backends and the Taylor-jet rules (which must not import each other)."""


class UnsupportedRequest(ValueError):
    """A backend cannot serve a request (too high an order, an unsupported module, too many points)."""


class UnsupportedModule(UnsupportedRequest):
    """The Taylor-jet rules have no propagation rule for a module (or ``f`` is a plain function)."""
