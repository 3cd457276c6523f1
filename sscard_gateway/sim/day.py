"""A short day of mixed traffic through the lab, and its summary (``make demo``).

Both centers send every kind of transaction; the switch declines large
payouts; for a while it stays silent, so the gateway answers ``68`` and
owes reversals, which it delivers once the switch answers again; a center
resends a transaction (``94``) and reverses another; the Shanghai center
settles a Beijing card (cross-region); CUPS sends a purchase for a
Shanghai card. The summary counts answers by kind and response code and
the reversals owed and delivered.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from datetime import datetime

import attrs
import trio

from ..errors import SscardError
from ..ids import AmountSplit
from ..link import transmission_time
from ..store import OwedKind, OwedStatus
from ._rules import Action, Decision, Rule, SwitchRules
from .center import Kind
from .lab import Lab, acquirer_purchase

__all__ = ["DaySummary", "run_day"]


@attrs.frozen
class DaySummary:
    """What happened during the day."""

    answers: dict[tuple[str, str], int]
    reversals_owed: int
    reversals_delivered: int
    advices_delivered: int
    switch_requests: int
    switch_approved: int

    def table(self) -> str:
        """A readable report."""
        lines = ["kind                      code  count", "-" * 37]
        for (kind, code), count in sorted(self.answers.items()):
            lines.append(f"{kind:<25} {code:>4}  {count:>5}")
        lines.append("-" * 37)
        lines.append(f"reversals owed {self.reversals_owed}, delivered {self.reversals_delivered}")
        lines.append(f"advices delivered {self.advices_delivered}")
        lines.append(
            f"switch: {self.switch_requests} requests, {self.switch_approved} approved records"
        )
        return "\n".join(lines)


async def _wait_delivered(lab: Lab, seconds: float = 10.0) -> None:
    with trio.move_on_after(seconds):
        while lab.journal.owed_items(status=OwedStatus.OWED):
            await trio.sleep(0.05)


async def run_day(lab: Lab, *, transactions: int = 40, seed: int = 7) -> DaySummary:
    """Run the day on a started lab and summarise it."""
    rng = random.Random(seed)  # noqa: S311 - test traffic, not cryptography
    names = list(lab.links)
    lab.switch.rules = SwitchRules(
        rules=(Rule(mti=("02",), amount_over=300_000, decision=Decision(response_code="51")),)
    )
    kinds = [
        Kind.MEDICAL_SETTLEMENT,
        Kind.BENEFIT_PAYOUT,
        Kind.CONTRIBUTION_PAYMENT,
        Kind.BALANCE_INQUIRY,
        Kind.REFUND,
    ]
    sent = []
    for i in range(transactions):
        name = names[i % len(names)]
        sim, card = lab.sims[name], lab.cards[name]
        kind = rng.choice(kinds)
        if kind is Kind.MEDICAL_SETTLEMENT:
            cash = rng.choice([0, 1200, 8000])
            split = AmountSplit.from_parts(
                fund=rng.randrange(1000, 50000), personal_account=rng.randrange(0, 9000), cash=cash
            )
            message = sim.build(kind, card, split=split)
        else:
            amount = rng.choice([500, 4500, 120_000, 450_000])
            insurance = rng.choice(["pension", "unemployment", "maternity", "work_injury"])
            message = sim.build(kind, card, amount=amount, insurance=insurance)
        if i == transactions // 2:  # the switch falls silent for a few requests
            lab.switch.rules = lab.switch.rules.with_rule(
                Rule(mti=("02", "04"), decision=Decision(action=Action.SILENT))
            )
        if i == transactions // 2 + 3:
            lab.switch.rules = SwitchRules(rules=lab.switch.rules.rules[1:])
        with contextlib.suppress(SscardError):
            await lab.links[name].request(message, timeout=5)
        sent.append((name, message))
    # a resent transaction, a center's reversal, a cross-region settlement, a CUPS purchase
    name, first = sent[0]
    await lab.links[name].request(first.evolve(), timeout=5)
    name, last = sent[-1]
    if last.mti == "0200":
        await lab.links[name].request(lab.sims[name].reversal(last), timeout=5)
    beijing_card = lab.cards["center-110000"]
    cross = lab.sims["center-310000"].build(
        Kind.MEDICAL_SETTLEMENT,
        beijing_card,
        split=AmountSplit.from_parts(fund=30000, personal_account=0, cash=1500),
    )
    await lab.links["center-310000"].request(cross, timeout=5)
    card = lab.cards["center-310000"]
    now = transmission_time(datetime.now())
    purchase = acquirer_purchase(card.pan, 2500, stan="700001", now=now)
    if lab.switch.links:
        await lab.switch.links[0].request(purchase, timeout=5)
    await _wait_delivered(lab)
    assert lab.gateway is not None
    stats = lab.gateway.statistics()
    owed = lab.journal.owed_items(status=None, limit=100_000)
    reversals = [o for o in owed if o.kind is OwedKind.REVERSAL]
    advices = [o for o in owed if o.kind is OwedKind.ADVICE and o.status is OwedStatus.DONE]
    answers: Counter[tuple[str, str]] = Counter(stats.answers)
    return DaySummary(
        answers=dict(answers),
        reversals_owed=len(reversals),
        reversals_delivered=sum(1 for o in reversals if o.status is OwedStatus.DONE),
        advices_delivered=len(advices),
        switch_requests=lab.switch.statistics().requests,
        switch_approved=len(lab.switch.approved_records()),
    )
