"""Mapping files are checked on load; every error names the file and the key path."""

import copy
import tomllib

import pytest

from sscard_gateway.errors import SpecError
from sscard_gateway.iso import specs_dir
from sscard_gateway.routing import Translator, available_mappings, load_mapping


def shipped(name):
    return tomllib.loads((specs_dir() / "mappings" / f"{name}.toml").read_text())


CENTER_TO_CUPS = shipped("center_to_cups")
POS_TO_CUPS = shipped("pos_to_cups")
CUPS_TO_CENTER = shipped("cups_to_center")


def edit(base, path, value):
    """A deep copy of ``base`` with ``path`` (a tuple of keys) set, or deleted for ``...``."""
    data = copy.deepcopy(base)
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


def _center(path, value):
    return edit(CENTER_TO_CUPS, path, value)


def _pos(path, value):
    return edit(POS_TO_CUPS, path, value)


_COPY = CENTER_TO_CUPS["request"]["copy"]
_DROP = CENTER_TO_CUPS["request"]["drop"]

CASES = [
    # [mapping]
    (_center(("mapping",), ...), "mapping", "section is required"),
    (_center(("mapping", "from"), "centre"), "mapping.from", "cannot be loaded"),
    (_center(("mapping", "to"), 3), "mapping.to", "must be a string"),
    (_center(("mapping", "form"), "x"), "mapping.form", "is not a known key"),
    (_center(("extra",), {}), "extra", "is not a known key"),
    # [request]
    (_center(("request",), ...), "request", "section is required"),
    (_center(("request", "mti"), ...), "request.mti", "is required"),
    (_center(("request", "mti"), {"0210": "0210"}), "request.mti.0210", "not the MTI of a request"),
    (_center(("request", "mti"), {"0200": "02X0"}), "request.mti.0200", "not the MTI of a request"),
    (_center(("request", "mti"), {"0420": "0420"}), "request.mti.0420", "Translator.reversal"),
    (_center(("request", "copy"), [*_COPY, 18]), f"request.copy[{len(_COPY)}]", "field 18 is not"),
    (_center(("request", "copy"), [*_COPY, 56]), f"request.copy[{len(_COPY)}]", "'cups'"),
    (_center(("request", "copy"), [2, 2]), "request.copy[1]", "names field 2 twice"),
    (_center(("request", "copy"), ["2"]), "request.copy[0]", "must be a field number"),
    (_center(("request", "copy"), [*_COPY, 38]), "request.drop", "both copied and dropped"),
    (_center(("request", "copy"), [*_COPY, 7]), "request.assign.7", "already written by copy"),
    (
        _center(("request", "drop"), [n for n in _DROP if n != 57]),
        "request",
        "field 57 of dialect 'center' is neither copied, renamed, rebuilt nor dropped",
    ),
    (_center(("request", "rename"), {"52": 53}), "request.rename.52", "both binary or both text"),
    (_center(("request", "rename"), {"18": 18}), "request.rename.18", "'center'"),
    (_center(("request", "rename"), {"56": 61}), "request.drop", "both renamed and dropped"),
    (_center(("request", "rename"), {"12": 13}), "request.rename.12", "differ in length"),
    (_center(("request", "rename"), {"62": 999}), "request.rename.62", "field 999 is not"),
    (_center(("request", "rename"), {"x": 61}), "request.rename.x", "field number from 2 to 128"),
    (
        _center(("request", "rename"), {"62": {"to": 62, "usage": "b"}}),
        "request.rename.62.usage",
        "two upper-case",
    ),
    (
        _center(("request", "rename"), {"62": {"to": 62, "usage": "BL"}}),
        "request.rename.62.usage",
        "exactly one",
    ),
    (
        _center(("request", "rename"), {"62": {"to": 62, "use": "BL"}}),
        "request.rename.62.use",
        "is not a known key",
    ),
    (_center(("request", "set"), {"18": "80A2"}), "request.set.18", "does not fit field 18"),
    (_center(("request", "set"), {"18": "80622"}), "request.set.18", "does not fit field 18"),
    (_center(("request", "set"), {"96": "00"}), "request.set.96", "binary"),
    (
        _center(("request", "set"), {"4": "000000000001"}),
        "request.set.4",
        "already written by copy",
    ),
    (_center(("request", "set"), {"18": 8062}), "request.set.18", "must be a string"),
    (_center(("request", "assign", "11"), "trace"), "request.assign.11", "must be one of stan"),
    (_center(("request", "assign", "41"), "transmission_time"), "request.assign.41", "field 41"),
    (_center(("request", "default", "7"), "1126101530"), "request.default.7", "always set"),
    (_center(("request", "fill"), [37]), "request.fill", "is not a known key"),
    # header, amount, rebuild
    (_center(("request", "header", "set"), {"dest": "1"}), "request.header.set.dest", "one of"),
    (
        _center(("request", "header", "assign"), {"source": "stan"}),
        "request.header.assign.source",
        "'acquirer' or 'forwarder'",
    ),
    (_center(("request", "amount", "from_split"), "bank"), "request.amount.from_split", "cash"),
    (_center(("request", "amount", "field"), 999), "request.amount.field", "field 999 is not"),
    (_center(("request", "rebuild", "4"), {"subfields": {}}), "request.rebuild.4", "no layout"),
    (
        _center(("request", "rebuild", "60", "subfields"), {"reason": "0000"}),
        "request.rebuild.60.subfields.reason",
        "is not a subfield",
    ),
    (
        _center(("request", "rebuild", "60", "subfields"), {"reason_code": "000"}),
        "request.rebuild.60.subfields.reason_code",
        "must be 4 characters",
    ),
    (
        _center(("request", "rebuild", "60", "subfields"), {"reason_code": {"from": "x"}}),
        "request.rebuild.60.subfields.reason_code.from",
        "needs the rebuild's 'from'",
    ),
    (
        _center(("request", "rebuild", "60", "subfields"), {"reason_code": 0}),
        "request.rebuild.60.subfields.reason_code",
        "a string or { from, default }",
    ),
    (
        _center(("request", "rebuild", "60", "subfields"), ...),
        "request.rebuild.60.subfields",
        "is required",
    ),
    (_center(("request", "rebuild", "60", "from"), 62), "request.rebuild.60.from", "no layout"),
    (
        _pos(("request", "rebuild", "60", "subfields", "reason_code"), ...),
        "request.rebuild.60.subfields",
        "subfield reason_code is required",
    ),
    (
        _pos(("request", "rebuild", "60", "subfields", "account_owner_type"), ...),
        "request.rebuild.60.subfields",
        "needs account_owner_type before it",
    ),
    (
        _pos(("request", "rebuild", "60", "subfields", "account_owner_type"), {"from": "batch"}),
        "request.rebuild.60.subfields.account_owner_type.from",
        "6 characters, not 1",
    ),
    (
        _pos(("request", "rebuild", "60", "subfields", "account_owner_type"), {"from": "owner"}),
        "request.rebuild.60.subfields.account_owner_type.from",
        "is not a subfield",
    ),
    # processing codes
    (
        _center(("processing_codes", "medical"), "purchase"),
        "processing_codes.medical",
        "neither 6 digits nor a processing code of 'center'",
    ),
    (_center(("processing_codes", "refund"), "refnd"), "processing_codes.refund", "'cups'"),
    (
        _center(("processing_codes", "refund"), {"code": "x"}),
        "processing_codes.refund.code",
        "neither 6 digits",
    ),
    (
        _center(("processing_codes", "refund"), {"set": {}}),
        "processing_codes.refund.code",
        "is required",
    ),
    (
        _center(("processing_codes", "refund"), 200000),
        "processing_codes.refund",
        "a processing code or",
    ),
    (
        _center(("processing_codes", "000000"), "300000"),
        "processing_codes.000000",
        "code 000000 is already mapped differently at medical_settlement",
    ),
    (
        _center(("processing_codes", "refund", "set"), {"18": "X"}),
        "processing_codes.refund.set.18",
        "does not fit",
    ),
    (
        _center(("processing_codes", "medical_settlement", "require"), [61, 999]),
        "processing_codes.medical_settlement.require[1]",
        "field 999 is not defined by dialect 'center'",
    ),
    (
        _center(("processing_codes", "refund", "set"), {"11": "000001"}),
        "processing_codes.refund.set.11",
        "assigned by the gateway",
    ),
    (
        _center(("request", "header", "set"), {"destination": "000100000000"}),
        "request.header.set.destination",
        "at most 11",
    ),
    (
        _center(("request", "header", "set", "transaction_info"), "0"),
        "request.header.set.transaction_info",
        "ASCII of 8",
    ),
    # response
    (_center(("response", "drop"), [2]), "response.drop", "is not a known key"),
    (_center(("response", "copy"), [5]), "response.copy[0]", "field 5 is not"),
    (_center(("response", "copy"), [38, 38]), "response.copy[1]", "twice"),
    (_center(("response", "fallback"), "ZZ"), "response.fallback", "not a response code"),
    (_center(("response_codes", "ZZ"), "05"), "response_codes.ZZ", "dialect 'cups'"),
    (_center(("response_codes", "01"), "01"), "response_codes.01", "of 'center'"),
    (edit(CUPS_TO_CENTER, ("request", "header"), {}), "request.header", "no CUPS header"),
    (
        edit(
            CUPS_TO_CENTER,
            ("request", "rebuild"),
            {
                "61": {
                    "subfields": {"fund": "A" * 12, "personal_account": "0" * 12, "cash": "0" * 12}
                }
            },
        ),
        "request.rebuild.61.subfields",
        "does not fit field 61",
    ),
]


@pytest.mark.parametrize(("data", "where", "problem"), CASES)
def test_mapping_errors_name_the_key_path(data, where, problem):
    with pytest.raises(SpecError) as info:
        Translator.from_dict(data, file="mine.toml")
    assert info.value.file == "mine.toml"
    assert info.value.where == where, info.value
    assert problem in info.value.problem
    assert str(info.value).startswith(f"mine.toml: {where}: ")


@pytest.mark.parametrize("name", ["center_to_cups", "cups_to_center", "pos_to_cups"])
def test_shipped_mappings_load_and_are_shared(name):
    assert name in available_mappings()
    translator = load_mapping(name)
    assert load_mapping(name) is translator
    assert translator.name == name and name in repr(translator)
    assert Translator.from_dict(shipped(name)).spec.mti == translator.spec.mti


def test_a_path_is_read_every_time(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text((specs_dir() / "mappings" / "pos_to_cups.toml").read_text())
    first = load_mapping(str(path))
    assert first.name == "mine" and load_mapping(path) is not first


def test_unreadable_files(tmp_path):
    with pytest.raises(SpecError, match="no such mapping"):
        load_mapping("center_to_visa")
    with pytest.raises(SpecError, match="cannot be read"):
        Translator.load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[mapping\n")
    with pytest.raises(SpecError, match="is not valid TOML"):
        Translator.load(bad)


def test_a_mapping_may_name_itself():
    data = _center(("mapping", "name"), "center_to_cups_v2")
    assert Translator.from_dict(data, name="file").name == "center_to_cups_v2"
