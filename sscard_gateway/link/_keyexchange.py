"""Working key exchange: keys from the wire into the security module.

Why: the working keys behind MACs and PIN blocks change on the wire, and a
key must never be used before it is checked nor dropped while messages
made with it are still in flight.

* CUPS key reset (DOMAIN.md §2): CUPS sends 0800 with F70 ``101``; F53
  digit 1 says which key (1 PIN key, 2 MAC key). The PIN key comes in F48
  usage ``NK`` as its cryptogram under the zone master key followed by its
  check value. The MAC key comes in F96 as its 8-byte cryptogram;
  **[assumed]** its check value then travels in F48 usage ``NK`` alone (F96
  has no room for it). Lengths are :class:`~._security.LinkKeys` settings.
* POS sign-on (DOMAIN.md §3): the response carries F62 key blocks, each a
  cryptogram under the terminal master key and a 4-byte check value, laid
  out by the network management code in F60.3.

Keys are imported only through the security module and checked against
their check values (``A8`` PIN key, ``A9`` MAC key on mismatch; nothing
staged survives a failed exchange). A name that already holds a key gets
the new one *staged*: the old key stays current until the new one is
confirmed (:class:`~._security.KeyConfirmation`), and is kept as *previous*
after that for ``retire_after`` seconds, so messages in flight still verify.
"""

from __future__ import annotations

from ..crypto import KeyInfo, KeyUsage, KeyVersion
from ..errors import DecodeError, SecurityError
from ..iso import Dialect, Message
from ..iso.composite import KeyBlock, Usage, parse_f62_keys
from ..iso.spec import KeyExchangeSpec
from ._events import KeysChanged
from ._security import KeyConfirmation, LinkSecurity

__all__ = ["KeyExchange"]

_Blocks = list[tuple[str | None, KeyUsage, KeyBlock]]


class KeyExchange:
    """Applies key exchanges for one link and retires old keys on time.

    Args:
        dialect: supplies the key exchange fields (``[network.key_exchange]``).
        security: the link's security module and key names.
    """

    def __init__(self, dialect: Dialect, security: LinkSecurity) -> None:
        network = dialect.spec.network
        self._spec: KeyExchangeSpec | None = network.key_exchange if network else None
        self._security = security
        self._module = security.module
        self._keys = security.keys
        self._retire_at: dict[str, float] = {}

    @property
    def configured(self) -> bool:
        """True when a key-encrypting key is configured (keys can be received)."""
        return self._keys.kek is not None

    def apply(
        self, message: Message, network_code: str | None, now: float, *, initiated: bool
    ) -> list[KeyInfo] | None:
        """Import, check and (per policy) confirm the keys ``message`` carries.

        Args:
            message: a key exchange request or a sign-on response.
            network_code: its network management code (lays out POS F62).
            now: the current time (schedules retirement of the old keys).
            initiated: we asked for these keys (a sign-on response): the peer
                has switched already, so they are confirmed at once.

        Returns:
            What the module now holds for each imported name, or ``None``
            when the message carries no key.

        Raises:
            DecodeError: a key field is malformed (answered with ``30``).
            KeyCheckError: a check value does not match (``A8``/``A9``).
            SecurityError: no key-encrypting key, or lengths that do not fit.
        """
        blocks = self._blocks(message, network_code)
        if not blocks:
            return None
        staged, infos = self._import(blocks)
        if initiated or self._keys.confirm is KeyConfirmation.ON_EXCHANGE:
            confirm = staged
        else:  # ON_PEER_USE: the MAC key waits for the peer's first MAC under it
            confirm = [name for name in staged if name != self._keys.mac_key]
        confirmed = self.confirm(confirm, now)
        current = {info.name: info for info in infos}
        current.update((info.name, info) for info in confirmed)
        return list(current.values())

    def confirm(self, names: list[str], now: float) -> list[KeyInfo]:
        """Confirm staged keys and schedule the retirement of the old ones."""
        out = [self._module.confirm_key(name) for name in names]
        after = self._keys.retire_after
        if after is not None:
            for info in out:
                self._retire_at[info.name] = now + after
        return out

    def peer_used_pending(self, now: float) -> KeysChanged | None:
        """A peer's MAC verified under the pending MAC key: confirm it."""
        name = self._keys.mac_key
        if name is None:
            return None
        return KeysChanged(tuple(self.confirm([name], now)))

    def confirm_pending(self, now: float) -> KeysChanged | None:
        """Confirm every key of this link that is staged (an operator's decision)."""
        mine = {self._keys.mac_key, self._keys.pin_key, self._keys.track_key}
        names = [
            info.name
            for info in self._module.list_keys()
            if info.version is KeyVersion.PENDING and info.name in mine
        ]
        return KeysChanged(tuple(self.confirm(names, now))) if names else None

    def next_retirement(self) -> float | None:
        """When an old key is next due to be dropped."""
        return min(self._retire_at.values(), default=None)

    def retire_due(self, now: float) -> None:
        """Drop the previous keys whose time has come."""
        for name, when in list(self._retire_at.items()):
            if when <= now:
                del self._retire_at[name]
                self._module.retire_previous(name)

    # -- reading and importing ----------------------------------------------------------

    def _usages(self) -> tuple[str, KeyUsage, KeyUsage]:
        kek = self._keys.kek
        if kek is None:
            raise SecurityError("the link has no key-encrypting key configured")
        info = next((i for i in self._module.list_keys() if i.name == kek), None)
        if info is None:
            raise SecurityError(f"no key-encrypting key named {kek!r}")
        if info.usage is KeyUsage.TERMINAL_MASTER:
            return kek, KeyUsage.TERMINAL_PIN, KeyUsage.TERMINAL_MAC
        return kek, KeyUsage.ZONE_PIN, KeyUsage.ZONE_MAC

    def _import(self, blocks: _Blocks) -> tuple[list[str], list[KeyInfo]]:
        kek, _, _ = self._usages()
        existing = {info.name for info in self._module.list_keys()}
        staged: list[str] = []
        infos: list[KeyInfo] = []
        try:
            for name, usage, block in blocks:
                if name is None:  # a key this link does not keep
                    continue
                stage = name in existing
                info = self._module.import_key(
                    name, usage, block.cryptogram, kek, block.check_value, stage=stage
                )
                if stage:
                    staged.append(name)
                infos.append(info)
        except SecurityError:
            for name in staged:
                self._module.discard_pending(name)
            raise
        return staged, infos

    def _blocks(self, message: Message, network_code: str | None) -> _Blocks:
        kx = self._spec
        if kx is None:
            return []
        _, pin_usage, mac_usage = self._usages()
        keys = self._keys
        if kx.pin_key_field is not None and kx.pin_key_field == kx.mac_key_field:
            return self._f62_blocks(message, kx, network_code, pin_usage, mac_usage)
        out: _Blocks = []
        key_type = _key_type(message, kx)
        tagged = _tagged(message, kx)
        mac_field = kx.mac_key_field
        if mac_field is not None and mac_field in message.fields and key_type in (None, "2"):
            cryptogram = message.fields[mac_field]
            if not isinstance(cryptogram, bytes) or tagged is None:
                raise DecodeError(str(mac_field), 0, "a MAC key cryptogram and its check value")
            if len(tagged) != keys.check_value_length:
                raise DecodeError(str(kx.pin_key_field), 2, "the MAC key check value")
            out.append((keys.mac_key, mac_usage, KeyBlock(cryptogram, tagged)))
        elif tagged is not None and key_type in (None, "1"):
            size = keys.pin_key_length + keys.check_value_length
            if len(tagged) != size:
                field = str(kx.pin_key_field)
                raise DecodeError(field, 2, f"{size} bytes of PIN key and check value")
            block = KeyBlock(tagged[: keys.pin_key_length], tagged[keys.pin_key_length :])
            out.append((keys.pin_key, pin_usage, block))
        return out

    def _f62_blocks(
        self,
        message: Message,
        kx: KeyExchangeSpec,
        network_code: str | None,
        pin_usage: KeyUsage,
        mac_usage: KeyUsage,
    ) -> _Blocks:
        assert kx.pin_key_field is not None
        data = message.fields.get(kx.pin_key_field)
        if data is None:
            return []
        field = str(kx.pin_key_field)
        if not isinstance(data, bytes) or network_code is None:
            raise DecodeError(field, 0, "key blocks and a network management code")
        blocks = parse_f62_keys(data, network_code, field=field)
        out: _Blocks = [
            (self._keys.pin_key, pin_usage, blocks.pin),
            (self._keys.mac_key, mac_usage, blocks.mac),
        ]
        if blocks.track is not None:
            out.append((self._keys.track_key, KeyUsage.TRACK_DATA, blocks.track))
        return out


def _key_type(message: Message, kx: KeyExchangeSpec) -> str | None:
    """F53 digit 1: ``1`` PIN key, ``2`` MAC key (``None``: not said)."""
    if kx.control_field is None:
        return None
    value = message.fields.get(kx.control_field)
    return value[0] if isinstance(value, str) and value else None


def _tagged(message: Message, kx: KeyExchangeSpec) -> bytes | None:
    """The data of the usage-tagged key field (F48 ``NK``), as bytes."""
    if kx.pin_key_field is None or kx.pin_key_usage is None:
        return None
    value = message.fields.get(kx.pin_key_field)
    if not isinstance(value, str):
        return None
    field = str(kx.pin_key_field)
    usage = Usage.parse(value, field=field)
    if usage.tag != kx.pin_key_usage:
        raise DecodeError(field, 0, f"usage tag {kx.pin_key_usage}")
    try:
        return bytes.fromhex(usage.data)
    except ValueError:
        raise DecodeError(field, 2, "hex characters") from None
