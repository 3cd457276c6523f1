"""Store-and-forward decisions, by the destination dialect's data.

An owed reversal or advice is finished only on its dialect's ``[reversal]
done`` / ``[advice] done`` codes; an ``exception`` code sends it to the
exception queue with a reason; any other code, or no answer, is retried
with a capped backoff; past its expiry it goes to the exception queue;
nothing is ever abandoned by an attempt count. Each decision moves the
item and its leg together, in one group, on a real journal.
"""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import trio
from engine_helpers import DATA_KEY, PAN_KEY, Bench, timeout
from hypothesis import given
from hypothesis import strategies as st
from world_helpers import open_world

from sscard_gateway.engine import SafPolicy, delivery, expire, resolve, retry
from sscard_gateway.iso import load_dialect
from sscard_gateway.link import Backoff
from sscard_gateway.sim import Kind
from sscard_gateway.store import (
    AddOwed,
    InsertLeg,
    LegKind,
    LegRecord,
    LegState,
    OwedItem,
    OwedKind,
    OwedStatus,
    SQLiteJournal,
    UpdateLeg,
)

SPECS = Path(__file__).resolve().parents[2] / "specs" / "dialects"
NOW = datetime(2026, 6, 15, 10, 0, 0)
POLICY = SafPolicy(initial=1.0, maximum=60.0, multiplier=2.0, expiry=86400.0)
DIALECTS = {"cups": load_dialect("cups"), "center": load_dialect("center")}
_SECTION = {OwedKind.REVERSAL: "reversal", OwedKind.ADVICE: "advice"}
_OWED_LEG = {OwedKind.REVERSAL: LegState.REVERSAL_OWED, OwedKind.ADVICE: LegState.ADVICE_OWED}
_DONE_LEG = {OwedKind.REVERSAL: LegState.REVERSED, OwedKind.ADVICE: LegState.ADVISED}

#: every code an answer may carry: two digits, the letters CUPS uses, and no answer at all
CODES: list[str | None] = [
    None,
    *(f"{n:02d}" for n in range(100)),
    *("A0", "A1", "C3", "Y1", "Z3"),
]


def _declared(dialect: str, kind: OwedKind) -> tuple[frozenset[str], frozenset[str]]:
    """``done`` and ``exception`` as the dialect file says, read from the TOML itself."""
    with (SPECS / f"{dialect}.toml").open("rb") as file:
        section = tomllib.load(file)[_SECTION[kind]]
    return frozenset(section["done"]), frozenset(section.get("exception", ()))


COMBOS = [
    pytest.param(dialect, kind, id=f"{dialect}-{kind.value}")
    for dialect in DIALECTS
    for kind in OwedKind
]


def _item(kind: OwedKind, destination: str = "cups", **overrides: object) -> OwedItem:
    values: dict[str, object] = {
        "id": f"k#1/{kind.value}",
        "kind": kind,
        "destination": destination,
        "transaction_key": "k",
        "payload": b"what is owed",
        "created_at": NOW.timestamp(),
        "expires_at": NOW.timestamp() + POLICY.expiry,
        "leg_id": "k#1",
    }
    values.update(overrides)
    return OwedItem(**values)  # type: ignore[arg-type]


def _leg(kind: OwedKind, destination: str = "cups") -> LegRecord:
    return LegRecord(
        leg_id="k#1",
        transaction_key="k",
        step=1,
        kind=LegKind.ADVICE if kind is OwedKind.ADVICE else LegKind.REQUEST,
        destination=destination,
        mti="0220" if kind is OwedKind.ADVICE else "0200",
        stan="000001",
        leg_key="0615100000|000001|48020000|48020000",
        amount=100,
        payload=b"the leg",
        created_at=NOW.timestamp(),
        state=_OWED_LEG[kind],
    )


@pytest.fixture
def journal():
    with SQLiteJournal(":memory:", pan_key=PAN_KEY, data_key=DATA_KEY) as journal:
        yield journal


def _journal_with(kind: OwedKind, destination: str = "cups") -> SQLiteJournal:
    journal = SQLiteJournal(":memory:", pan_key=PAN_KEY, data_key=DATA_KEY)
    journal.apply_groups([[InsertLeg(_leg(kind, destination)), AddOwed(_item(kind, destination))]])
    return journal


@pytest.mark.parametrize(("dialect", "kind"), COMBOS)
def test_the_acceptance_codes_are_the_dialect_files_data(dialect, kind):
    done, hopeless = _declared(dialect, kind)
    spec = DIALECTS[dialect].spec
    if kind is OwedKind.REVERSAL:
        assert (set(spec.reversal_done), set(spec.reversal_exception)) == (done, hopeless)
    else:
        assert spec.advice is not None
        assert (set(spec.advice.done), set(spec.advice.exception)) == (done, hopeless)
    assert done and not done & hopeless


@pytest.mark.parametrize(("dialect", "kind"), COMBOS)
def test_each_code_gets_the_verdict_the_dialect_declares(dialect, kind):
    done, hopeless = _declared(dialect, kind)
    verdicts: dict[str, set[str | None]] = {"done": set(), "exception": set(), "retry": set()}
    for code in CODES:
        verdict, _ = delivery(_item(kind), code, dialect=DIALECTS[dialect], now=NOW, policy=POLICY)
        verdicts[verdict].add(code)
    assert verdicts["done"] == done
    assert verdicts["exception"] == hopeless
    assert verdicts["retry"] == set(CODES) - done - hopeless
    assert None in verdicts["retry"]  # no answer is never done
    for code in ("25", "30", "96", "A0"):  # the codes the first gateway took as delivered
        if code not in done:
            assert code not in verdicts["done"]


@pytest.mark.parametrize(("dialect", "kind"), COMBOS)
def test_an_acceptance_code_finishes_the_item_and_its_leg_in_one_group(dialect, kind):
    done, _ = _declared(dialect, kind)
    for code in sorted(done):
        with _journal_with(kind) as journal:
            item = journal.get_owed(_item(kind).id)
            verdict, ops = delivery(item, code, dialect=DIALECTS[dialect], now=NOW, policy=POLICY)
            assert verdict == "done"
            (result,) = journal.apply_groups([ops])
            assert result.applied
            stored = journal.get_owed(item.id)
            assert stored.status is OwedStatus.DONE and stored.attempts == 1
            assert stored.last_response_code == code
            assert journal.legs("k")[0].state is _DONE_LEG[kind]
            assert journal.statistics(NOW.timestamp()).done == 1


@pytest.mark.parametrize(("dialect", "kind"), COMBOS)
def test_an_exception_code_sends_the_item_to_the_exception_queue_with_a_reason(dialect, kind):
    _, hopeless = _declared(dialect, kind)
    for code in sorted(hopeless):
        with _journal_with(kind) as journal:
            item = journal.get_owed(_item(kind).id)
            verdict, ops = delivery(item, code, dialect=DIALECTS[dialect], now=NOW, policy=POLICY)
            assert verdict == "exception"
            assert journal.apply_groups([ops])[0].applied
            stored = journal.get_owed(item.id)
            assert stored.status is OwedStatus.EXCEPTION
            assert stored.reason and code in stored.reason
            assert stored.last_response_code == code
            assert journal.legs("k")[0].state is LegState.EXCEPTION
            stats = journal.statistics(NOW.timestamp())
            assert (stats.exceptions, stats.owed) == (1, 0)


@pytest.mark.parametrize(("dialect", "kind"), COMBOS)
def test_any_other_code_is_retried_with_backoff_and_the_leg_stays_owed(dialect, kind):
    done, hopeless = _declared(dialect, kind)
    others = [c for c in CODES if c not in done and c not in hopeless]
    for code in others:
        with _journal_with(kind) as journal:
            item = journal.get_owed(_item(kind).id)
            verdict, ops = delivery(item, code, dialect=DIALECTS[dialect], now=NOW, policy=POLICY)
            assert verdict == "retry"
            assert journal.apply_groups([ops])[0].applied
            stored = journal.get_owed(item.id)
            assert stored.status is OwedStatus.OWED and stored.attempts == 1
            assert stored.next_attempt_at == NOW.timestamp() + POLICY.initial
            assert stored.last_response_code == code
            assert journal.legs("k")[0].state is _OWED_LEG[kind]


def test_the_backoff_doubles_up_to_its_cap_and_never_stops(journal):
    journal.apply_groups([[InsertLeg(_leg(OwedKind.REVERSAL)), AddOwed(_item(OwedKind.REVERSAL))]])
    now = NOW
    waits = []
    for _ in range(200):
        item = journal.get_owed(_item(OwedKind.REVERSAL).id)
        verdict, ops = delivery(item, "96", dialect=DIALECTS["cups"], now=now, policy=POLICY)
        assert verdict == "retry"
        assert journal.apply_groups([ops])[0].applied
        stored = journal.get_owed(item.id)
        waits.append(stored.next_attempt_at - now.timestamp())
        now = datetime.fromtimestamp(stored.next_attempt_at)
    assert waits[:7] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]
    assert set(waits[6:]) == {60.0}
    stored = journal.get_owed(_item(OwedKind.REVERSAL).id)
    assert stored.status is OwedStatus.OWED and stored.attempts == 200
    assert journal.legs("k")[0].state is LegState.REVERSAL_OWED


@given(
    attempts=st.integers(0, 10**9),
    code=st.one_of(st.none(), st.text("0123456789ABCZ", min_size=2, max_size=2)),
    kind=st.sampled_from(list(OwedKind)),
    dialect=st.sampled_from(list(DIALECTS)),
)
def test_nothing_is_abandoned_by_an_attempt_count(attempts, code, kind, dialect):
    done, hopeless = _declared(dialect, kind)
    item = _item(kind, attempts=attempts)
    verdict, ops = delivery(item, code, dialect=DIALECTS[dialect], now=NOW, policy=POLICY)
    if code in done:
        assert verdict == "done"
    elif code in hopeless:
        assert verdict == "exception"
    else:
        assert verdict == "retry"
        (op,) = ops
        assert op.status is None and op.attempts == attempts + 1
        assert 0 < op.next_attempt_at - NOW.timestamp() <= POLICY.maximum
    assert not [op for op in ops if isinstance(op, AddOwed)]  # never a new item: no reversal


@pytest.mark.parametrize("kind", list(OwedKind), ids=lambda k: k.value)
def test_an_item_past_its_expiry_goes_to_the_exception_queue_with_its_leg(journal, kind):
    journal.apply_groups([[InsertLeg(_leg(kind)), AddOwed(_item(kind))]])
    item = journal.get_owed(_item(kind).id)
    later = NOW + timedelta(seconds=POLICY.expiry + 1)
    assert journal.apply_groups([expire(item, later)])[0].applied
    stored = journal.get_owed(item.id)
    assert stored.status is OwedStatus.EXCEPTION and "expiry" in stored.reason
    assert journal.legs("k")[0].state is LegState.EXCEPTION
    assert journal.due_owed(later.timestamp() + 10**6) == []


@pytest.mark.parametrize("kind", list(OwedKind), ids=lambda k: k.value)
def test_an_operator_retries_or_resolves_an_item_of_the_exception_queue(journal, kind):
    journal.apply_groups([[InsertLeg(_leg(kind)), AddOwed(_item(kind))]])
    item = journal.get_owed(_item(kind).id)
    journal.apply_groups([expire(item, NOW)])
    later = NOW + timedelta(hours=1)
    assert journal.apply_groups([retry(journal.get_owed(item.id), later, POLICY)])[0].applied
    again = journal.get_owed(item.id)
    assert again.status is OwedStatus.OWED and again.repeat
    assert again.expires_at == later.timestamp() + POLICY.expiry
    assert journal.legs("k")[0].state is _OWED_LEG[kind]
    assert [i.id for i in journal.due_owed(later.timestamp())] == [item.id]
    # an owed item cannot be resolved: only one in the exception queue can
    (refused,) = journal.apply_groups([resolve(again, later, who="ops", why="no")])
    assert not refused.applied
    journal.apply_groups([expire(again, later)])
    ops = resolve(journal.get_owed(item.id), later, who="li.wei", why="refunded by hand")
    assert journal.apply_groups([ops])[0].applied
    final = journal.get_owed(item.id)
    assert final.status is OwedStatus.RESOLVED and final.resolution == "li.wei: refunded by hand"
    assert journal.legs("k")[0].state is LegState.RESOLVED


def test_an_outcome_on_an_item_that_moved_under_it_is_refused(journal):
    """Two attempts racing (or an operator's resolve): the second outcome finds the item done."""
    journal.apply_groups([[InsertLeg(_leg(OwedKind.REVERSAL)), AddOwed(_item(OwedKind.REVERSAL))]])
    item = journal.get_owed(_item(OwedKind.REVERSAL).id)
    _, first = delivery(item, "00", dialect=DIALECTS["cups"], now=NOW, policy=POLICY)
    _, second = delivery(item, "30", dialect=DIALECTS["cups"], now=NOW, policy=POLICY)
    assert journal.apply_groups([first])[0].applied
    assert not journal.apply_groups([second])[0].applied
    assert journal.get_owed(item.id).status is OwedStatus.DONE
    assert journal.legs("k")[0].state is LegState.REVERSED
    moved = UpdateLeg(
        leg_id="k#1", updated_at=NOW.timestamp(), expect=LegState.REVERSAL_OWED,
        state=LegState.REVERSED,
    )  # fmt: skip
    assert not journal.apply_groups([[moved]])[0].applied


# -- store-and-forward on the real gateway: attempts only while the switch is signed on ---------


HOURS = SafPolicy(initial=1.0, maximum=60.0, attempt_timeout=5.0)
"""A policy sized for an outage of hours (the lab's retries every 0.2 s)."""


def _owed_reversal(bench: Bench) -> str:
    request = bench.request("center-110000", Kind.CONTRIBUTION_PAYMENT, "bank", amount=777)

    def lost(send, now):
        bench.ledgers["cups"].apply(send.message)  # approved at the switch, the answer lost
        return timeout(send, now)

    run = bench.drive(bench.start("center-110000", request), lost)
    assert run.code == "68"
    return run.sent[0].leg.transaction_key


async def test_an_outage_of_two_hours_costs_no_attempt_and_abandons_nothing(
    tmp_path, autojump_clock
):
    bench = Bench(tmp_path)
    try:
        key = _owed_reversal(bench)
        start = bench.clock.advance(5)
        async with open_world(
            tmp_path / "journal.db", start, switch_ledger=bench.ledgers["cups"],
            switch_after=7200.0, saf=HOURS, backoff=Backoff(initial=1.0, maximum=60.0),
        ) as world:  # fmt: skip
            await trio.sleep(7100)
            (item,) = world.journal.owed_items(transaction_key=key)
            assert item.status is OwedStatus.OWED and item.attempts == 0
            await world.until(lambda: not world.journal.owed_items(transaction_key=key))
        (item,) = bench.journal.owed_items(status=None, transaction_key=key)
        assert item.status is OwedStatus.DONE and item.attempts == 1
        assert item.last_response_code == "00"
        assert bench.ledgers["cups"].entries()[0].reversed
    finally:
        bench.close()


async def test_a_reversal_past_its_expiry_during_an_outage_goes_to_the_exception_queue(
    tmp_path, autojump_clock
):
    bench = Bench(tmp_path)
    try:
        key = _owed_reversal(bench)  # owed with the bench's policy: expiry three days
        (owed,) = bench.journal.owed_items(transaction_key=key)
        start = datetime.fromtimestamp(owed.expires_at) - timedelta(hours=1)
        async with open_world(
            tmp_path / "journal.db", start, switch_ledger=bench.ledgers["cups"],
            switch_after=7200.0, saf=HOURS, backoff=Backoff(initial=1.0, maximum=60.0),
        ) as world:  # fmt: skip
            owed = world.journal.owed_items
            await world.until(lambda: not owed(transaction_key=key), 9000, every=10)
            stats = world.gateway.statistics()
            assert stats.exceptions == 1
        (item,) = bench.journal.owed_items(status=None, transaction_key=key)
        assert item.status is OwedStatus.EXCEPTION and item.attempts == 0
        assert "expiry" in item.reason
        assert [leg.state for leg in bench.journal.legs(key)] == [LegState.EXCEPTION]
        assert not bench.ledgers["cups"].entries()[0].reversed  # an operator must act
        assert not [m for m in world.switch.recent if m.mti in ("0420", "0421")]
    finally:
        bench.close()
