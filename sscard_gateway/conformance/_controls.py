"""Hooks into the peer's upstream, for the one case the kit cannot drive alone.

Why: "the upstream does not answer, so the gateway answers the center
``68`` and reverses the upstream leg" can only be tested when something
makes the gateway's upstream (its switch) stay silent and can see the
reversal arrive there. The kit talks to the gateway only, so that
something is an :class:`UpstreamControl` handed to the runner: in-process
tests use :class:`SwitchSimulatorControl` on our switch simulator; an
integrator writes one for their own test switch. Without a control the
case is reported *not applicable* with the reason (or, when the operator
says the upstream is configured to stay silent, run with the reversal
noted as not observed) — never passed silently.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import trio

from ..iso import Message
from ..sim import Action, Decision, Rule, SwitchRules, SwitchSimulator

__all__ = ["SwitchSimulatorControl", "UpstreamControl"]


@runtime_checkable
class UpstreamControl(Protocol):
    """Makes the peer's upstream stay silent and sees what reaches it."""

    async def silence(self) -> None:
        """From now on the upstream does not answer financial requests."""
        ...

    async def restore(self) -> None:
        """The upstream answers again (as before :meth:`silence`)."""
        ...

    async def reversal_delivered(self, request: Message, timeout: float) -> bool:
        """Wait until a reversal of the upstream leg of ``request`` reached the upstream.

        Args:
            request: the request the kit sent to the peer (its own dialect).
            timeout: how long to wait, in seconds.

        Returns:
            True when the reversal arrived within ``timeout``.
        """
        ...


class SwitchSimulatorControl:
    """An :class:`UpstreamControl` over our :class:`~sscard_gateway.sim.SwitchSimulator`.

    Silence is a rule tried first that leaves authorizations and financial
    requests (MTI ``01``/``02``) unanswered; reversals are still answered,
    so the gateway's store-and-forward can deliver them. A reversal is
    recognised by its MTI (``0420``/``0421``) and the PAN and amount of the
    kit's request.

    Args:
        switch: the simulator the gateway under test connects to.
    """

    def __init__(self, switch: SwitchSimulator) -> None:
        self.switch = switch
        self._saved: SwitchRules | None = None

    async def silence(self) -> None:
        """Put the silent rule in front of the simulator's rules."""
        self._saved = self.switch.rules
        silent = Rule(mti=("01", "02"), decision=Decision(action=Action.SILENT))
        self.switch.rules = self.switch.rules.with_rule(silent)

    async def restore(self) -> None:
        """Put the simulator's rules back."""
        if self._saved is not None:
            self.switch.rules, self._saved = self._saved, None

    async def reversal_delivered(self, request: Message, timeout: float) -> bool:
        """Poll the simulator's recent messages for the reversal (see the class docs)."""

        def seen() -> bool:
            return any(
                m.mti in ("0420", "0421")
                and m.fields.get(2) == request.fields.get(2)
                and m.fields.get(4) == request.fields.get(4)
                for m in list(self.switch.recent)
            )

        with trio.move_on_after(timeout):
            while not seen():
                await trio.sleep(0.02)
            return True
        return False
