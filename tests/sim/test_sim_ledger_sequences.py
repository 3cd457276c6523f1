"""Any sequence of requests, advices, reversals and resends: the ledger's invariants (Hypothesis).

Never a double effect; what is held is what was approved minus what was
reversed; every answer is the one a model of the switch gives; and the
record file replays to the same ledger.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from sscard_gateway.iso import load_dialect
from sscard_gateway.sim import Ledger

CUPS = load_dialect("cups")
PAN = "6225880112000006"
OTHER_PAN = "6225880112000014"


def purchase(stan, amount, *, mti="0200"):
    fields = {2: PAN, 3: "000000", 4: f"{amount:012d}", 7: "1126101010", 11: stan}
    fields.update({32: "48020000", 33: "48020000", 41: "HOSP0001", 42: "110105806200001"})
    return CUPS.message(mti, fields)


def reversal_of(original, stan, *, mti, **changes):
    message = original.reversal_of({7: "1126101111", 11: stan}).evolve(mti=mti)
    return message.with_fields({int(k.lstrip("f")): v for k, v in changes.items()})


# -- any sequence --------------------------------------------------------------------------------

TXNS = 2  # few transactions and reversal STANs, so that sequences collide often
operation = st.one_of(
    st.tuples(st.just("request"), st.integers(0, TXNS - 1), st.sampled_from(["00", "51"])),
    st.tuples(st.just("advice"), st.integers(0, TXNS - 1), st.sampled_from(["0220", "0221"])),
    st.tuples(
        st.just("reverse"),
        st.integers(0, TXNS - 1),
        st.booleans(),  # of the advice rather than the request
        st.integers(0, 2),  # the reversal's STAN: equal ones are resends
        st.sampled_from(["0420", "0421"]),
        st.sampled_from([None, None, None, "amount", "card"]),
    ),
)


def _request(i):
    return purchase(f"{i + 1:06d}", 100 * (i + 1))


def _advice(i, mti="0220"):
    return purchase(f"{i + 51:06d}", 70 * (i + 1), mti=mti)


def _reversal(op):
    _, i, of_advice, rstan, mti, tamper = op
    original = _advice(i) if of_advice else _request(i)
    changes = {"amount": {"f4": "000000000001"}, "card": {"f2": OTHER_PAN}}.get(tamper, {})
    return reversal_of(original, f"{900 + rstan:06d}", mti=mti, **changes), original


@given(st.lists(operation, min_size=3, max_size=30))
@example(
    [
        ("request", 0, "00"),
        ("reverse", 0, False, 0, "0420", None),
        ("reverse", 0, False, 1, "0421", None),  # another reversal of a reversed original
        ("reverse", 0, False, 0, "0421", None),  # a resend of the first
    ]
)
def test_any_sequence_never_reverses_twice_and_held_is_approved_minus_reversed(ops):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ledger"
        ledger = Ledger(CUPS, path)
        model: dict[tuple, str] = {}  # key -> response code
        unseen: set[tuple] = set()  # originals a reversal named before they came
        reversed_keys: set[tuple] = set()
        answers: dict[tuple, str] = {}  # reversal key -> first answer
        for op in ops:
            if op[0] == "request":
                message = _request(op[1])
                key = ledger.key_of(message)
                first = "12" if key in unseen else op[2]  # overtaken by its reversal
                expected = "94" if key in model else first
                model.setdefault(key, first)
                assert ledger.apply(message, op[2]).response_code == expected
            elif op[0] == "advice":
                message = _advice(op[1], op[2])
                model.setdefault(ledger.key_of(message), "00")
                assert ledger.apply(message).response_code == "00"
            else:
                message, original = _reversal(op)
                rkey, key = ledger.key_of(message), ledger.key_of(original)
                if rkey not in answers:
                    if key not in model:
                        answers[rkey] = "25"
                        unseen.add(key)
                    elif op[5] is not None:
                        answers[rkey] = "30"
                    else:
                        answers[rkey] = "00"
                        if model[key] == "00":
                            reversed_keys.add(key)
                assert ledger.apply(message).response_code == answers[rkey]
        held = {e.key for e in ledger.held()}
        assert held == {k for k, code in model.items() if code == "00"} - reversed_keys
        assert {e.key for e in ledger.entries() if e.reversed} == reversed_keys
        for key, effects in ledger.effect_counts().items():
            assert effects.applied <= 1 and effects.reversed <= 1, key
            assert effects.reversed == (key in reversed_keys)
        stats = ledger.statistics()
        assert stats.requests == len(ops)
        assert stats.reversals_applied == len(reversed_keys)
        ledger.close()
        with Ledger(CUPS, path) as replayed:
            assert replayed.entries() == ledger.entries()
            assert replayed.statistics() == stats
            assert replayed.effect_counts() == ledger.effect_counts()
