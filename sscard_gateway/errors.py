"""One error hierarchy for the whole library.

Errors are values with names (docs/architecture.md principle 6). Every error a
peer can cause carries the ISO 8583 response code (field 39) that answers
it, so the link and gateway layers never guess: a decode error answers
``30``, a MAC failure ``A0``, a key error ``A7``/``A8``/``A9``, a PIN error
``55`` or ``99``.

No error message ever holds card data in clear: callers pass field numbers,
offsets and descriptions, never the decoded PAN, track, PIN block or key.
"""

from __future__ import annotations

__all__ = [
    "AcomFormatError",
    "ClearingError",
    "DecodeError",
    "DuplicateRequest",
    "EncodeError",
    "FrameTooLarge",
    "FramingError",
    "HeaderError",
    "JournalClosed",
    "JournalError",
    "JournalKeyError",
    "KeyCheckError",
    "KeyStoreError",
    "LinkClosed",
    "LinkError",
    "LinkUnavailable",
    "MacError",
    "MappingError",
    "PinBlockError",
    "ProtocolError",
    "RejectedByPeer",
    "RequestTimeout",
    "RoutingError",
    "SecurityError",
    "SpecError",
    "SscardError",
    "ValidationError",
]


class SscardError(Exception):
    """Base of every error raised on purpose by sscard_gateway.

    Attributes:
        response_code: the field 39 value that answers this error when it was
            caused by a peer's message, or ``None`` when no answer applies.
    """

    response_code: str | None = None


class SpecError(SscardError):
    """A dialect, mapping or vector file is invalid.

    The message names the file, the place in it (``fields.55.max``) and the
    problem, so a center's engineer can fix the file without reading code.
    """

    def __init__(self, file: str, where: str, problem: str) -> None:
        self.file = file
        self.where = where
        self.problem = problem
        super().__init__(f"{file}: {where}: {problem}")


class DecodeError(SscardError):
    """Bytes from the wire do not form a valid message of the dialect.

    Attributes:
        field: the field being read (``"mti"``, ``"bitmap"``, ``"header"``,
            ``"length"`` or a field number as a string).
        offset: the byte offset in the frame where reading failed.
        expected: what the reader expected there.
    """

    response_code = "30"

    def __init__(self, field: str, offset: int, expected: str) -> None:
        self.field = field
        self.offset = offset
        self.expected = expected
        super().__init__(f"field {field} at byte {offset}: {expected}")


class FramingError(DecodeError):
    """A frame's length prefix, TPDU or header cannot be read."""


class HeaderError(FramingError):
    """A message header cannot be read.

    Attributes:
        reject_code: the CUPS reject code that answers it (``00015`` bad
            header length, ``00025`` bad version, ``00035`` bad total length,
            ``00045`` bad destination, ``00055`` bad source).
    """

    def __init__(self, field: str, offset: int, expected: str, reject_code: str) -> None:
        self.reject_code = reject_code
        super().__init__(field, offset, expected)


class FrameTooLarge(FramingError):
    """A frame declares a length above the configured maximum.

    The peer cannot be trusted to resynchronise after this, so links close
    the connection instead of answering.
    """

    def __init__(self, declared: int, maximum: int, offset: int = 0) -> None:
        self.declared = declared
        self.maximum = maximum
        super().__init__("length", offset, f"a length of at most {maximum}, got {declared}")


class RejectedByPeer(SscardError):
    """CUPS returned our message with a reject header in front (DOMAIN.md §2).

    The inner message's field 39 is not to be trusted; ``reject_code`` says
    why the switch refused it (``00015`` bad header length, ``00025`` bad
    version, ``00035`` bad total length, ``00045`` bad destination, ``00055``
    bad source).
    """

    def __init__(self, reject_code: str, message: object) -> None:
        self.reject_code = reject_code
        self.message = message
        super().__init__(f"rejected by the switch with code {reject_code}")


class EncodeError(SscardError):
    """A message cannot be encoded in the dialect.

    Attributes:
        field: the field number (as a string) or part that failed.
        problem: what is wrong with it.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"field {field}: {problem}")


class ValidationError(SscardError):
    """A value is well-formed on the wire but not valid for the business.

    Examples: a PAN with a bad Luhn digit (``14``), an amount split that does
    not add up (``13``), a malformed social security number (``30``).
    """

    def __init__(self, what: str, problem: str, response_code: str = "30") -> None:
        self.what = what
        self.problem = problem
        self.response_code = response_code
        super().__init__(f"{what}: {problem}")


class SecurityError(SscardError):
    """Base of cryptographic failures; the response code says which."""

    response_code = "A7"


class MacError(SecurityError):
    """A MAC did not verify (or could not be computed)."""

    response_code = "A0"


class PinBlockError(SecurityError):
    """A PIN block is malformed or does not decode under the given key."""

    response_code = "99"


class KeyCheckError(SecurityError):
    """A key's check value does not match what was expected.

    ``response_code`` is ``A8`` for PIN keys, ``A9`` for MAC keys and ``A7``
    otherwise.
    """

    def __init__(self, message: str, response_code: str = "A7") -> None:
        self.response_code = response_code
        super().__init__(message)


class KeyStoreError(SecurityError):
    """A key store is missing, tampered with, or opened with the wrong key."""


class LinkError(SscardError):
    """A link to a peer failed: not connected, closed, or timed out."""

    response_code = "91"


class ProtocolError(LinkError):
    """A peer broke the link protocol (unexpected message in this state)."""


class RequestTimeout(LinkError):
    """No response arrived before the request's deadline.

    ``response_code`` is the dialect's timeout answer (``98`` no answer from
    the issuer, ``68`` response too late on the center dialect).
    """

    response_code = "98"

    def __init__(
        self, message: str = "no response before the deadline", response_code: str = "98"
    ) -> None:
        self.response_code = response_code
        super().__init__(message)


class LinkClosed(LinkError):
    """The connection was lost or the link closed before the request ended (``91``)."""


class DuplicateRequest(LinkError):
    """A request with the same match key is already in flight on the link (``94``)."""

    response_code = "94"


class LinkUnavailable(LinkClosed):
    """The request was never sent: the link was not signed on in time, or is closing."""


class JournalError(SscardError):
    """The journal could not store or read what it was asked to (``96``).

    Raised for storage failures (disk full, I/O error, a locked or corrupt
    database, a schema newer than this library). A write that raised it was
    not committed: none of the operations of its batch were stored.
    """

    response_code = "96"


class JournalKeyError(JournalError):
    """A journal key is wrong, or a sealed payload failed authentication.

    Raised when the PAN key or data key given is not the one the journal was
    created with, and when a sealed payload does not open under the data key
    (tampered with, moved to another row, or sealed under another key).
    """


class JournalClosed(JournalError):
    """The journal, or its group-commit writer, is closed; nothing more is stored."""


class RoutingError(SscardError):
    """No route takes a message anywhere; it is answered without being forwarded.

    ``response_code`` is ``15`` (no such issuer: the card's BIN is unknown)
    or ``92`` (cannot route: no card, an unknown institution, or the only
    route leads back to the sender). The message never holds the PAN.
    """

    def __init__(self, problem: str, response_code: str = "92") -> None:
        self.problem = problem
        self.response_code = response_code
        super().__init__(problem)


class MappingError(SscardError):
    """A message cannot be translated by a mapping (``specs/mappings/``).

    Attributes:
        mapping: the mapping's name (``center_to_cups``).
        where: the part that failed (``processing_codes``, ``field 61``).
        problem: what is wrong, never a card number.
        response_code: the answer to the requester: ``12`` for a
            transaction the mapping does not carry, ``30`` for a message
            missing what the mapping needs, ``96`` for a misuse.
    """

    def __init__(self, mapping: str, where: str, problem: str, response_code: str = "12") -> None:
        self.mapping = mapping
        self.where = where
        self.problem = problem
        self.response_code = response_code
        super().__init__(f"{mapping}: {where}: {problem}")


class ClearingError(SscardError):
    """Clearing or reconciliation cannot go on (DOMAIN.md §6).

    Raised for a clearing file that cannot be read at all, a reconciliation
    store whose schema is newer than this library's, or a bad argument
    (settlement date, output folder). Bad lines of a clearing file are not
    errors: they are reported as problems and the rest is reconciled.
    """


class AcomFormatError(ClearingError):
    """A value does not fit UnionPay's clearing file layout (when writing).

    Attributes:
        field: the layout's field name.
        problem: what is wrong; never the value (it may be a PAN).
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")
