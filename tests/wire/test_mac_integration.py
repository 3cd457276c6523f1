"""Each dialect's declared MAC rule, end to end with the security module.

The dialect file names the MAC field, the MAB rule, the algorithm and the
field form; the codec builds the MAB from what is on the wire; the security
module computes and verifies by key name. Any change to a covered byte
fails verification with MacError (A0).
"""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sscard_gateway.crypto import Algorithm, KeyUsage, SoftwareSecurityModule
from sscard_gateway.errors import DecodeError, MacError
from sscard_gateway.iso import load_dialect, specs_dir
from sscard_gateway.iso.jsonio import message_from_dict

KEYS = {
    "cups": Algorithm.DES,  # x9.9 with the single-length ZAK [public]
    "pos": Algorithm.TDES_2KEY,  # pos-ecb with a double-length TAK
    "center": Algorithm.TDES_2KEY,  # x9.19 retail MAC
}
SAMPLES = {
    "cups": "cups_0200_purchase.json",
    "pos": "pos_0200_purchase.json",
    "center": "center_0200_medical.json",
}


@pytest.fixture(scope="module")
def hsm():
    module = SoftwareSecurityModule.in_memory()
    for name, algorithm in KEYS.items():
        usage = KeyUsage.TERMINAL_MAC if name == "pos" else KeyUsage.ZONE_MAC
        module.generate_key(f"{name}.mac", algorithm, usage)
    return module


def _sample(name):
    data = json.loads((specs_dir() / "samples" / SAMPLES[name]).read_text(encoding="utf-8"))
    dialect = load_dialect(name)
    return dialect, message_from_dict(dialect, data)


def _signed(hsm, name):
    dialect, message = _sample(name)
    mac = dialect.spec.mac
    frame = dialect.encode(
        message, mac=lambda mab: hsm.generate_mac(f"{name}.mac", mac.algorithm, mab, mac.form)
    )
    return dialect, frame


def _verify(hsm, dialect, frame):
    mac = dialect.spec.mac
    decoded = dialect.decode(frame)
    hsm.verify_mac(
        f"{dialect.name}.mac",
        mac.algorithm,
        dialect.mac_block(decoded),
        decoded[mac.field],
        mac.form,
    )


@pytest.mark.parametrize("name", sorted(KEYS))
def test_generated_mac_verifies(hsm, name):
    dialect, frame = _signed(hsm, name)
    _verify(hsm, dialect, frame)


@pytest.mark.parametrize("name", ["pos", "center"])
@given(data=st.data())
def test_any_changed_byte_fails(hsm, name, data):
    """Whole-message MABs cover every byte from the MTI to the MAC field.

    The TPDU and POS header come before the MTI and are not covered.
    """
    dialect, frame = _signed(hsm, name)
    start = dialect.spec.prefix.size + (11 if name == "pos" else 0)
    end = len(frame) - (16 if name == "center" else 8)
    at = data.draw(st.integers(start, end - 1))
    bit = data.draw(st.integers(0, 7))
    tampered = bytearray(frame)
    tampered[at] ^= 1 << bit
    with pytest.raises((MacError, DecodeError)):
        _verify(hsm, dialect, bytes(tampered))


def test_cups_mac_covers_selected_fields_only(hsm):
    dialect, frame = _signed(hsm, "cups")
    decoded = dialect.decode(frame)
    changed_amount = decoded.with_fields({4: "000000099999", 128: decoded[128]})
    with pytest.raises(MacError):
        _verify(hsm, dialect, dialect.encode(changed_amount))
    # F49 is not in the CUPS MAB selection: changing it keeps the MAC valid
    changed_currency = decoded.with_fields({49: "840"})
    _verify(hsm, dialect, dialect.encode(changed_currency))


def test_tampered_mac_field_fails(hsm):
    dialect, frame = _signed(hsm, "cups")
    tampered = bytearray(frame)
    tampered[-1] ^= 0x01
    with pytest.raises(MacError):
        _verify(hsm, dialect, bytes(tampered))
