"""Shared helpers for the link tests: dialects, messages, keys, a protocol pair.

``Pair`` wires two sans-I/O protocols together (STYLE.md 12, after h11's
``tests/helpers.py``): what one side sends is fed to the other and the
events it raises are collected. Test modules reach these helpers through
the ``h`` fixture (a conftest cannot be imported by name).
"""

from __future__ import annotations

import sys
from datetime import datetime

import pytest
import trio
import trio.testing

from sscard_gateway.crypto import Algorithm, KeyUsage, SoftwareSecurityModule
from sscard_gateway.iso import Message, load_dialect
from sscard_gateway.link import (
    NEED_DATA,
    Backoff,
    LinkConfig,
    LinkKeys,
    LinkProtocol,
    serve_link_stream,
)

CUPS = load_dialect("cups")
POS = load_dialect("pos")
PAN = "6225880137654324"
NOW = datetime(2024, 11, 26, 10, 15, 30)

ZMK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
ZAK = bytes.fromhex("1C2B3A4958677685")
ZPK = bytes.fromhex("0123456789ABCDEF0123456789ABCDEF")
TMK = bytes.fromhex("11111111111111112222222222222222")

CLIENT_FIELDS = {33: "48020000"}
POS_FIELDS = {41: "TERM0001", 42: "110105806200001", 60: "00000001"}


def wallclock() -> datetime:
    return NOW


def purchase(stan: str = "000123", *, f7: str = "1126101530", dialect=CUPS, **extra) -> Message:
    """A CUPS 0200 purchase (or a POS one with ``dialect=POS``)."""
    if dialect is POS:
        fields = {2: PAN, 3: "000000", 4: "000000012345", 11: stan, 22: "051", 25: "00"}
        fields.update({41: "TERM0001", 42: "110105806200001", 49: "156"})
    else:
        fields = {2: PAN, 3: "000000", 4: "000000012345", 7: f7, 11: stan}
        fields.update({32: "48020000", 33: "48020000", 41: "HOSP0001", 49: "156"})
        fields.update({42: "110105806200001", 18: "8062", 25: "00"})
    fields.update({int(k.lstrip("f")): v for k, v in extra.items()})
    return dialect.message("0200", fields)


def drain(proto: LinkProtocol) -> list:
    out = []
    while (event := proto.next_event()) is not NEED_DATA:
        out.append(event)
    return out


def of_type(events: list, kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def zone_module(*, mac: bytes = ZAK, pin: bytes = ZPK) -> SoftwareSecurityModule:
    """A module with a ZMK, ZAK (single DES, X9.9) and ZPK under the names the tests use."""
    module = SoftwareSecurityModule.in_memory()
    module.import_components("zmk", Algorithm.TDES_2KEY, KeyUsage.ZONE_MASTER, [ZMK])
    module.import_components("zak", Algorithm.DES, KeyUsage.ZONE_MAC, [mac])
    module.import_components("zpk", Algorithm.TDES_2KEY, KeyUsage.ZONE_PIN, [pin])
    return module


def terminal_module() -> SoftwareSecurityModule:
    module = SoftwareSecurityModule.in_memory()
    module.import_components("tmk", Algorithm.TDES_2KEY, KeyUsage.TERMINAL_MASTER, [TMK])
    return module


ZONE_KEYS = LinkKeys(mac_key="zak", pin_key="zpk", kek="zmk")


class Pair:
    """A client and a server protocol joined back to back."""

    def __init__(
        self,
        dialect=CUPS,
        *,
        client: LinkConfig | None = None,
        server: LinkConfig | None = None,
        client_security=None,
        server_security=None,
        keys: LinkKeys | None = None,
    ) -> None:
        fields = POS_FIELDS if dialect is POS else CLIENT_FIELDS
        self.client = LinkProtocol(
            dialect,
            config=client or LinkConfig(network_fields=fields, echo_interval=30.0),
            security=client_security,
            keys=keys if client_security is not None else None,
            wallclock=wallclock,
        )
        self.server = LinkProtocol(
            dialect,
            config=server or LinkConfig(echo_interval=None),
            security=server_security,
            keys=keys if server_security is not None else None,
            wallclock=wallclock,
        )
        self.now = 0.0

    def connect(self) -> None:
        self.client.connect(self.now)
        self.server.connect(self.now)
        drain(self.client)
        drain(self.server)

    def to_server(self, data: bytes | None) -> list:
        assert data is not None
        self.server.receive_data(data, self.now)
        return drain(self.server)

    def to_client(self, data: bytes | None) -> list:
        assert data is not None
        self.client.receive_data(data, self.now)
        return drain(self.client)

    def sign_on(self) -> None:
        """Connect and sign the client on (the server answers it)."""
        self.connect()
        _, data = self.client.sign_on(self.now)
        events = self.to_server(data)
        reply = events[-1].reply
        drain(self.client)
        self.to_client(reply)


@pytest.fixture
def pair() -> Pair:
    return Pair()


# Bound now: other conftest modules of the suite are also named "conftest", so
# sys.modules[__name__] would later name whichever was imported last.
_HELPERS = sys.modules[__name__]


@pytest.fixture
def h():
    """This module: the helpers above."""
    return _HELPERS


# --- Trio helpers -----------------------------------------------------------------------


class MemoryNetwork:
    """A connector over Trio memory streams; ``serve`` runs the peer end of each connection."""

    def __init__(self, nursery, serve, pair=trio.testing.memory_stream_pair) -> None:
        self.nursery = nursery
        self.serve = serve
        self.pair = pair
        self.connects: list[float] = []
        self.refuse = 0
        self.peers: list = []

    async def connect(self):
        self.connects.append(trio.current_time())
        if self.refuse:
            self.refuse -= 1
            raise OSError("connection refused")
        client, server = self.pair()
        self.nursery.start_soon(self.serve, server)
        return client


async def approve(message):
    return message.response_to("00")


def peer(dialect=CUPS, handler=approve, **kwargs):
    """The listening end as a ``serve`` function for :class:`MemoryNetwork`."""

    async def serve(stream) -> None:
        await serve_link_stream(stream, dialect, handler=handler, wallclock=wallclock, **kwargs)

    return serve


def link_kwargs(**overrides):
    """open_link arguments for tests: no jitter, a fixed clock, fast backoff."""
    kwargs = dict(
        config=LinkConfig(network_fields=CLIENT_FIELDS, echo_interval=30.0),
        wallclock=wallclock,
        backoff=Backoff(initial=1.0, maximum=4.0, multiplier=2.0, jitter=0.5),
        random=lambda: 0.0,
    )
    kwargs.update(overrides)
    return kwargs


# --- TLS material made in the test -------------------------------------------------------


def _certificate(name, key, issuer_name, issuer_key, *, ca=False, server=False):
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256()), subject


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1 and two client certificates, as PEM files."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    folder = tmp_path_factory.mktemp("tls")

    def new_key():
        return ec.generate_private_key(ec.SECP256R1())

    def write(name, cert, key):
        cert_path = folder / f"{name}.pem"
        key_path = folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return str(cert_path), str(key_path)

    ca_key = new_key()
    ca_cert, ca_name = _certificate("sscard test CA", ca_key, None, None, ca=True)
    files = {"ca": write("ca", ca_cert, ca_key)[0]}
    for name, server in (("gateway", True), ("center-110105", False), ("intruder", False)):
        key = new_key()
        cert, _ = _certificate(name, key, ca_name, ca_key, server=server)
        files[name] = write(name, cert, key)
    return files
