"""MACs on a link's messages, through the security module, and the key settings.

Why: every message of a keyed link carries a MAC (DOMAIN.md §2: CUPS F128,
X9.9 over the selected fields; §3: POS F64, the "ECB" algorithm). The MAC
is generated in the same encoding pass as the frame and verified over the
bytes received (STYLE.md 6), by key *name* in the
:class:`~sscard_gateway.crypto.SecurityModule`: no clear key reaches the
link (docs/architecture.md principle 5). Verification tries the current, the
pending and the previous key and says which one verified, which is how a
key exchange learns that the peer has switched (see :mod:`._keyexchange`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable

import attrs

from ..crypto import KeyVersion, SecurityModule
from ..errors import MacError
from ..iso import Dialect, Message

__all__ = ["KeyConfirmation", "LinkKeys", "LinkSecurity"]


class KeyConfirmation(enum.Enum):
    """When a staged key becomes the one used to generate MACs and PIN blocks."""

    ON_EXCHANGE = "on_exchange"
    """At once when the exchange succeeds (we approve the 0800, or the
    sign-on response approves); the old key is kept as previous."""
    ON_PEER_USE = "on_peer_use"
    """The MAC key when a peer's MAC first verifies under it (until then
    our MACs use the old key); a PIN key at once, as with ``ON_EXCHANGE``."""


@attrs.frozen(kw_only=True)
class LinkKeys:
    """Key names in the security module and how the link uses them.

    Attributes:
        mac_key: the MAC key (ZAK or TAK); ``None`` turns MACs off.
        pin_key: the PIN key (ZPK or TPK) a key exchange replaces.
        kek: the key-encrypting key (ZMK or TMK) new keys come under.
        track_key: the track data key of a POS sign-on with code 004.
        mac_classes: message classes that must carry a MAC; other messages
            are verified only when they carry the MAC field.
        confirm: when staged keys are confirmed.
        pin_key_length: bytes of the PIN key cryptogram in F48 ``NK``.
        check_value_length: bytes of each check value on the wire.
        retire_after: seconds after a confirmation when the previous key is
            dropped; ``None`` keeps it until the next exchange.
    """

    mac_key: str | None = None
    pin_key: str | None = None
    kek: str | None = None
    track_key: str | None = None
    mac_classes: tuple[str, ...] = ("financial",)
    confirm: KeyConfirmation = KeyConfirmation.ON_EXCHANGE
    pin_key_length: int = 16
    check_value_length: int = 4
    retire_after: float | None = 300.0


MacFunction = Callable[[bytes], bytes]


class LinkSecurity:
    """The MAC operations of one link.

    Args:
        dialect: supplies the MAC field, algorithm and form, and the key
            exchange fields.
        module: the security module holding the keys.
        keys: key names and policy.
    """

    def __init__(self, dialect: Dialect, module: SecurityModule, keys: LinkKeys) -> None:
        self._dialect = dialect
        self._module = module
        self._keys = keys
        self._mac = dialect.spec.mac if keys.mac_key is not None else None
        self._mac_classes = frozenset(keys.mac_classes)
        self._mac_fn: MacFunction | None = None
        if self._mac is not None:
            mac, name = self._mac, keys.mac_key
            assert name is not None

            def generate(block: bytes) -> bytes:
                return module.generate_mac(name, mac.algorithm, block, mac.form)

            self._mac_fn = generate

    @property
    def keys(self) -> LinkKeys:
        """The key names and policy."""
        return self._keys

    @property
    def module(self) -> SecurityModule:
        """The security module."""
        return self._module

    # -- MACs --------------------------------------------------------------------------

    def mac_for(self, message: Message) -> MacFunction | None:
        """The MAC function for an outbound message, or ``None`` when it carries no MAC."""
        if self._mac_fn is None or self._dialect.mti_class(message.mti) not in self._mac_classes:
            return None
        return self._mac_fn

    def verify(self, message: Message) -> KeyVersion | None:
        """Verify an inbound message's MAC.

        Returns:
            The key version that verified, or ``None`` when no MAC applies.

        Raises:
            MacError: the MAC is missing where required, or does not verify.
            SecurityError: the key is missing or unsuitable (a configuration error).
        """
        mac = self._mac
        if mac is None:
            return None
        value = message.fields.get(mac.field)
        if value is None:
            if self._dialect.mti_class(message.mti) in self._mac_classes:
                raise MacError(f"MAC field {mac.field} missing")
            return None
        if not isinstance(value, bytes):
            raise MacError(f"MAC field {mac.field} is not binary")
        name = self._keys.mac_key
        assert name is not None
        block = self._dialect.mac_block(message)
        return self._module.verify_mac(name, mac.algorithm, block, value, mac.form)
