"""Dialect files load, and every kind of mistake is reported with file, place, problem."""

import tomllib

import pytest

from sscard_gateway.errors import SpecError
from sscard_gateway.iso import available_dialects, load_dialect, load_spec, specs_dir
from sscard_gateway.iso.loader import spec_from_dict


def _cups_doc():
    return tomllib.loads((specs_dir() / "dialects" / "cups.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", available_dialects())
def test_shipped_dialects_load(name):
    dialect = load_dialect(name)
    assert dialect.name == name
    assert dialect.spec.fields


def test_loading_is_shared_by_name():
    assert load_dialect("cups") is load_dialect("cups")


def test_cups_facts_from_the_domain():
    spec = load_dialect("cups").spec
    assert spec.transaction_key == (7, 11, 32, 33)
    assert spec.mac is not None and spec.mac.field == 128
    assert spec.mac.selection["network"] == ("mti", 7, 11, 39, 53, 70, 100)
    assert spec.mac.truncate == {90: 20}
    assert spec.reversal_mti == "0420"
    assert spec.reversal_done == ("00", "12", "25", "C3")
    assert spec.network is not None and spec.network.codes["echo"] == "301"
    for number in (52, 55, 96, 128):
        assert spec.fields[number].binary
    assert spec.secondary_always


def _error(doc):
    with pytest.raises(SpecError) as info:
        spec_from_dict(doc, file="bad.toml")
    return info.value


def test_unknown_key_is_named():
    doc = _cups_doc()
    doc["fields"]["2"]["maxx"] = 19
    err = _error(doc)
    assert (err.file, err.where) == ("bad.toml", "fields.2.maxx")
    assert "not a known key" in err.problem


def test_unknown_top_level_section_is_named():
    doc = _cups_doc()
    doc["feilds"] = {}
    assert _error(doc).where == "feilds"


def test_impossible_length_is_named():
    doc = _cups_doc()
    doc["fields"]["32"]["max"] = 150  # LL cannot say 150
    err = _error(doc)
    assert err.where == "fields.32.max"
    assert "LL" in err.problem


def test_non_positive_length():
    doc = _cups_doc()
    doc["fields"]["3"]["max"] = 0
    assert _error(doc).where == "fields.3.max"


def test_missing_mti_and_bitmap_sections():
    doc = _cups_doc()
    del doc["mti"]
    assert _error(doc).where == "mti"
    doc = _cups_doc()
    del doc["bitmap"]
    assert _error(doc).where == "bitmap"


def test_bad_enum_value_lists_the_choices():
    doc = _cups_doc()
    doc["fields"]["2"]["class"] = "q"
    err = _error(doc)
    assert err.where == "fields.2.class"
    assert "'n'" in err.problem


def test_field_number_rules():
    doc = _cups_doc()
    doc["fields"]["02"] = doc["fields"]["2"]
    assert "leading zeros" in _error(doc).problem
    doc = _cups_doc()
    doc["fields"]["65"] = doc["fields"]["3"]
    assert _error(doc).where == "fields.65"


def test_references_to_undefined_fields():
    doc = _cups_doc()
    doc["keys"]["match"] = [7, 11, 77]
    err = _error(doc)
    assert err.where == "keys.match" and "77" in err.problem
    doc = _cups_doc()
    doc["mac"]["selection"]["financial"].append(8)
    assert _error(doc).where == "mac.selection.financial"


def test_bad_layout_reference():
    doc = _cups_doc()
    doc["fields"]["60"]["layout"] = "nope"
    assert _error(doc).where == "fields.60.layout"


def test_duplicate_field_in_a_file_is_reported(tmp_path):
    text = (specs_dir() / "dialects" / "cups.toml").read_text(encoding="utf-8")
    text += '\n[fields.2]\nname = "again"\nclass = "n"\nmax = 19\n'
    path = tmp_path / "dup.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.file == "dup.toml"
    assert "TOML" in info.value.problem


def test_unknown_dialect_name():
    with pytest.raises(SpecError) as info:
        load_dialect("nosuch")
    assert "cups" in info.value.problem


def test_wrong_types_are_named():
    doc = _cups_doc()
    doc["framing"]["max_length"] = "big"
    err = _error(doc)
    assert err.where == "framing.max_length" and "integer" in err.problem
    doc = _cups_doc()
    doc["framing"]["length_includes_itself"] = 1
    assert _error(doc).where == "framing.length_includes_itself"


def test_a_dialect_file_can_be_loaded_by_path(tmp_path):
    doc_text = (specs_dir() / "dialects" / "center.toml").read_text(encoding="utf-8")
    path = tmp_path / "myregion.toml"
    path.write_text(doc_text.replace('name = "center"', 'name = "myregion"'), encoding="utf-8")
    assert load_dialect(str(path)).name == "myregion"
