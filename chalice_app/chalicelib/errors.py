"""The project's own exceptions: one tree, documented here.

Everything the project raises on purpose derives from ``ShoppingAssistantError``,
so a caller can catch all of them, or one kind. Errors from libraries (botocore's
``ClientError``...) and plain bugs are not wrapped: they stay what they are.

::

    ShoppingAssistantError         base; never raised itself
    +-- ConfigError                a configuration variable is missing or malformed;
    |                              the message names it (also a RuntimeError)
    +-- ProtocolError              a client frame cannot be acted on: ``code`` is
    |                              invalid_json, unknown_action or invalid_message,
    |                              ``message`` says what to fix; the connection stays open
    +-- EnvelopeError              an SQS body is not a chat envelope this code
    |                              understands; retrying cannot fix it (also a ValueError)
    +-- ConnectionGoneError        the client has disconnected (HTTP 410 GoneException);
    |                              never worth a retry
    +-- ConnectionBusyError        the client's outgoing buffer is full (HTTP 429
    |                              LimitExceededException): the frame was not sent, it
    |                              stays in the frame log for the client's resume
    +-- AssistantError             an assistant backend broke its contract (say,
    |                              finished without a reply)
    +-- InvalidSessionError        a session id the server did not issue, that has
    |                              expired or that belongs to another owner; the
    |                              client gets ``invalid_session``, nothing else
    +-- SessionBusyError           another ack of the session held its ack lease for
    |                              longer than the lease lasts (the client gets
    |                              ``internal_error``: try again)
    +-- ReplyStoppedError          the shopper stopped the reply being answered
    |                              (stoppable.run; the processor ends it, stopped)
    +-- DeadlineError              chat_processor stopped itself before its Lambda
    |                              deadline (a failed attempt, retried: retry.py)
    +-- HeadConditionError         framelog: a conditional write on a session's head
    |                              failed; carries the head before it (internal)
    |
    |   outside chalicelib (they never ship to Lambda):
    +-- StageError                 infra.stage: a stage cannot be used as configured
    +-- DeployStoppedError         infra.deploy: a step failed in a way the later
    |                              steps cannot work around
    +-- InvocationError            localcloud.lambdaservice: an emulated function failed
    |   +-- FunctionTimeoutError   ... ran past its timeout (its environment was killed)
    |   +-- InitError              ... could not initialise (Runtime.ImportModuleError)
    +-- PortInUseError             localcloud.stack: the local stack's port is taken

The chalicelib classes are defined here and also importable from the module that
raises them (``protocol.ProtocolError``, ``management.ConnectionGoneError``,
``config.ConfigError``, ``envelope.EnvelopeError``); the others are defined in
their own modules, on this base.
"""

__all__ = [
    "ShoppingAssistantError",
    "ConfigError",
    "ProtocolError",
    "EnvelopeError",
    "ConnectionGoneError",
    "ConnectionBusyError",
    "AssistantError",
    "InvalidSessionError",
    "SessionBusyError",
    "ReplyStoppedError",
    "DeadlineError",
]


class ShoppingAssistantError(Exception):
    """Base of every exception this project raises on purpose."""


class ConfigError(ShoppingAssistantError, RuntimeError):
    """A configuration variable is missing or malformed; the message names it."""


class ProtocolError(ShoppingAssistantError):
    """A client frame cannot be acted on; ``code`` is its error code, ``message`` what to fix."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class EnvelopeError(ShoppingAssistantError, ValueError):
    """The SQS body is not a chat envelope this code understands."""


class ConnectionGoneError(ShoppingAssistantError):
    """The client has disconnected (the Management API answered 410 GoneException)."""

    def __init__(self, connection_id: str):
        super().__init__(f"connection {connection_id} is gone")
        self.connection_id = connection_id


class ConnectionBusyError(ShoppingAssistantError):
    """The client is not reading: the Management API answered 429 LimitExceededException."""

    def __init__(self, connection_id: str):
        super().__init__(f"connection {connection_id} is not reading (its outgoing buffer is full)")
        self.connection_id = connection_id


class AssistantError(ShoppingAssistantError):
    """An assistant backend did not keep its contract."""


class InvalidSessionError(ShoppingAssistantError):
    """The session id was not issued by the server, has expired, or belongs to another owner."""

    def __init__(self, session_id: str):
        super().__init__(f"session {session_id[:64]!r} is not valid for this client")
        self.session_id = session_id


class SessionBusyError(ShoppingAssistantError):
    """The session's ack lease stayed taken (framelog.ACK_LEASE_SECONDS) while waiting to ack."""

    def __init__(self, session_id: str):
        super().__init__(f"session {session_id[:64]!r}: another message of it is still being queued")
        self.session_id = session_id


class ReplyStoppedError(ShoppingAssistantError):
    """The shopper stopped the reply (a ``stop`` frame); raised where the processor takes the turn's events."""


class DeadlineError(ShoppingAssistantError):
    """chat_processor stopped a turn before its Lambda deadline (``DEADLINE_MARGIN_SECONDS``)."""
