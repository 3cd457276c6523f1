"""PIN translation between legs: the peer gets the PIN block under its own key, or none.

The inbound block (field 52, or the dialect's SM4 field and usage, F63
``SM``) is re-enciphered inside the security module from the source link's
PIN key to the destination's (the clear PIN never leaves the module); the
field that carried it in is never passed on as it was.
"""

from __future__ import annotations

import attrs

from ..crypto import SecurityModule
from ..errors import DecodeError
from ..iso import Dialect, Message
from ..routing import card_pan

__all__ = ["PinRoute", "translate_pin"]


@attrs.frozen(kw_only=True)
class PinRoute:
    """Where a PIN block comes from and goes to (key names and formats)."""

    from_key: str | None
    from_format: str
    to_key: str | None
    to_format: str


def translate_pin(
    security: SecurityModule, inbound: Message, outbound: Message, route: PinRoute, dialect: Dialect
) -> Message:
    """Re-encipher the inbound PIN block for the outbound leg.

    The inbound block (field 52, or field 63 usage ``SM``) is translated
    under the security module; with an SM4 outbound format it travels in
    the dialect's SM4 field and usage, otherwise in field 52. The field
    that carried it in is never passed on as it was (a mapping may copy
    it): the peer gets the block under its own key, or no block.

    Raises:
        SecurityError: the block does not translate (``A7``, ``A8``, ``55``, ``99``).
        DecodeError: the SM4 field's block is not hexadecimal (``30``).
    """
    assert inbound.dialect is not None
    spec = inbound.dialect.spec.pin
    field = spec.field if spec is not None else 52
    block = inbound.fields.get(field)
    bare = outbound.without(field)
    if not isinstance(block, bytes):
        if spec is None or spec.sm4_field is None:
            return bare
        usage = spec.sm4_usage or "SM"
        sm = inbound.fields.get(spec.sm4_field)
        if not (isinstance(sm, str) and sm.startswith(usage)):
            return bare
        try:
            block = bytes.fromhex(sm[len(usage) :])
        except ValueError:
            raise DecodeError(str(spec.sm4_field), len(usage), "a PIN block in hex") from None
        bare = bare.without(spec.sm4_field)
    if route.from_key is None or route.to_key is None:
        return bare
    translated = security.translate_pin(
        block, card_pan(inbound), route.from_key, route.from_format, route.to_key, route.to_format
    )
    pin = dialect.spec.pin
    fields: dict[int, str | bytes]
    if route.to_format == "sm4" and pin is not None and pin.sm4_field is not None:
        usage = pin.sm4_usage or "SM"
        fields = {pin.sm4_field: usage + translated.hex().upper()}
        if pin.control_field is not None and pin.sm4_control:
            fields[pin.control_field] = pin.sm4_control
        return bare.with_fields(fields)
    fields = {pin.field if pin else 52: translated}
    if pin is not None and pin.control_field is not None and pin.control:
        fields[pin.control_field] = pin.control
    return bare.with_fields(fields)
