"""Logging for the service: text or JSON lines, and no card data or key material in either.

Why a filter on top of masked ``repr``\\ s: the library's own log calls
show messages masked (docs/architecture.md principle 5), but a log line can
also carry an exception's text, a peer's garbage, an ``extra`` field or a
third-party library's message. :class:`SecretFilter` is the last line of
defence, applied to every record that reaches the service's handler:

* any run of 13 to 19 digits that passes the Luhn check is masked to its
  first six and last four digits (:func:`~sscard_gateway.ids.mask_pan`);
* a run of 8 or more hex digits after a label that names a key, a PIN
  block, a cryptogram, a component, a MAC or fields 52/55/96
  (``pin_block=...``, ``key: ...``, ``F52=...``) is wiped (transaction,
  upstream, original and match keys are identifiers, not key material);
* any other run of 32 or more hex digits mixing letters and digits (a
  double-length key, a master key, a cryptogram) is wiped; shorter
  unlabelled ones (key check values, identifiers) are kept.

The message, ``extra`` fields (also nested in lists and dicts), exception
text and stack text are all scrubbed. JSON lines carry ``time`` (local,
with its offset), ``level``, ``logger``, ``message``, the ``extra`` fields
and ``exception`` when there is one.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import re
import sys
from typing import Any, Final, TextIO

from ..config import LoggingSettings
from ..ids import is_valid_pan, mask_pan

__all__ = ["JsonFormatter", "SecretFilter", "configure_logging", "mask_secrets"]

WIPED: Final = "[wiped]"

_PAN = re.compile(r"(?<![0-9])[0-9]{13,19}(?![0-9])")
_LABELLED = re.compile(
    r"(?i)(?<![a-z0-9_])(?!(?:transaction|upstream|original|match)_key)"
    r"(?:(?P<label>(?:[a-z]+_)?(?:key|zak|zpk|zmk|tak|tpk|tmk|kek|pin_?block|cryptogram"
    r"|component|mac|secret))(?P<sep>\s*[:=]\s*(?:b?['\"])?|\s+)"
    r"|(?P<field>(?:f|field[ _]?)?(?:52|55|96))(?P<fsep>\s*[:=]\s*(?:b?['\"])?))"
    r"(?P<hex>[0-9a-f]{8,})(?![0-9a-z])"
)
_LONG_HEX = re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f]{32,}(?![0-9A-Za-z])")
_STANDARD: Final = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _pan(match: re.Match[str]) -> str:
    digits = match.group(0)
    return mask_pan(digits) if is_valid_pan(digits, min_len=13) else digits


def _labelled(match: re.Match[str]) -> str:
    if match["label"] is not None:
        return f"{match['label']}{match['sep']}{WIPED}"
    return f"{match['field']}{match['fsep']}{WIPED}"


def _long_hex(match: re.Match[str]) -> str:
    run = match.group(0)
    has_letter = any(c.isalpha() for c in run)
    has_digit = any(c.isdigit() for c in run)
    return WIPED if has_letter and has_digit else run


def mask_secrets(text: str) -> str:
    """Mask PANs and wipe key-like hex in ``text`` (see the module's rules).

    Args:
        text: any text.

    Returns:
        The text with every Luhn-valid 13-19 digit run masked to first six /
        last four, and key-like hex runs replaced by ``[wiped]``.
    """
    text = _LABELLED.sub(_labelled, text)
    text = _LONG_HEX.sub(_long_hex, text)
    return _PAN.sub(_pan, text)


def _scrub(value: object) -> object:
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        masked = mask_secrets(str(value))
        return value if masked == str(value) else masked
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        return {str(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v) for v in value]
    return mask_secrets(str(value))


class SecretFilter(logging.Filter):
    """Masks PANs and wipes key material in every record it sees; never drops one.

    Attach it to a handler (handler filters see the records of every
    logger below the one the handler is on; logger filters do not).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub ``record`` in place.

        Args:
            record: the record; its message is rendered and its arguments dropped.

        Returns:
            ``True``: the record is always kept.
        """
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = f"{record.msg!s} {record.args!r}"
        record.msg = mask_secrets(message)
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and not key.startswith("_"):
                setattr(record, key, _scrub(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_secrets(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON.

        Args:
            record: the record.

        Returns:
            The JSON text (no newline).
        """
        moment = _dt.datetime.fromtimestamp(record.created).astimezone()
        out: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in out:
                out[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False)


_TEXT_FORMAT: Final = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(
    settings: LoggingSettings, *, stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record, scrubbed, to ``stream`` (stderr) as text or JSON lines.

    A handler installed by an earlier call is replaced, so calling it twice
    does not double the lines.

    Args:
        settings: the level and form.
        stream: where lines go (``sys.stderr`` by default).

    Returns:
        The handler installed on the root logger.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(SecretFilter())
    handler.setFormatter(JsonFormatter() if settings.json else logging.Formatter(_TEXT_FORMAT))
    handler.set_name("sscard-service")
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == "sscard-service":
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level.upper())
    return handler
