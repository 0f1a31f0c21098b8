"""How an invocation fails, as Lambda reports it to the caller.

``InvocationError``: the handler raised (Lambda's error result, ``errorType`` and
``errorMessage`` kept); ``FunctionTimeoutError``: the invocation ran past the function's
timeout and its environment was killed; ``InitError``: the environment could not
initialise (``Runtime.ImportModuleError`` and friends). All three are in the
project's exception tree (``chalicelib/errors.py``).
"""

from typing import Optional

from chalicelib.errors import ShoppingAssistantError

__all__ = ["InvocationError", "FunctionTimeoutError", "InitError"]


class InvocationError(ShoppingAssistantError):
    """The function failed: Lambda reports an error result to the caller."""

    def __init__(self, message: str, error_type: Optional[str] = None):
        super().__init__(message)
        self.error_type = error_type


class FunctionTimeoutError(InvocationError):
    """The invocation ran past the function's timeout; its environment was killed."""


class InitError(InvocationError):
    """The execution environment failed to initialise (the handler's module did not import)."""
