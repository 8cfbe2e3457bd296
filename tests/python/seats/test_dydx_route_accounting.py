"""`DydxVenue.move_funds`'s accounting on a fake route (fast, no replica): what withdrawals owe the vault comes from
the seat adapter's pending withdrawals and the local bridge's payments, not from two chains' transaction history; a
rate-limited IBC leg does not hold the other legs back; the fee reserve stays where it is."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace

from eth_utils.address import to_checksum_address

from keeper.client.bridge import CctpMessage
from keeper.connectors.dydx import DydxConnectionError, DydxError, DydxTxRejectedError
from keeper.connectors.dydx.cctp import NOBLE_DOMAIN, AttestedMessage
from keeper.connectors.dydx.noble import NobleBurn
from keeper.seats.dydx import DydxVenue

D = Decimal
ADAPTER = to_checksum_address("0x00000000000000000000000000000000000a11ce")
UNIT = 10**6  # the base token's units per USDC


@dataclass
class Contract:
    """The seat adapter and the local bridge, in base units."""

    pending: int = 0  # the adapter's pendingWithdrawals
    held: int = 0  # USDC the bridge paid the adapter, not yet collected
    paid_nonces: set[int] = field(default_factory=set)

    def is_paid(self, message: CctpMessage) -> bool:
        return message.nonce in self.paid_nonces

    def receive_message(self, message: bytes, attestation: bytes) -> None:
        decoded = CctpMessage.decode(message)
        assert decoded.nonce not in self.paid_nonces
        self.paid_nonces.add(decoded.nonce)
        self.held += decoded.amount

    def claim(self) -> None:
        self.pending -= min(self.held, self.pending)
        self.held = 0


class Route:
    """The owner's balances on the route, and Noble's burns; each leg moves them at once."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.settings = SimpleNamespace(fee_reserve=D(0), poll_interval=0.0)
        self.subaccount = D(1000)
        self.bank = D(0)
        self.noble = D(0)
        self.burns: list[NobleBurn] = []
        self.indexed_from = 0  # the Noble node's search lists the burns from this one on
        self.attested: set[str] = set()
        self.attestation_route_away = False
        self.rate_limited = False
        self.calls: list[tuple[str, Decimal]] = []

    async def withdraw(self, amount: Decimal) -> str:
        self.calls.append(("withdraw", amount))
        self.subaccount -= amount
        self.bank += amount
        return "WITHDRAW"

    async def noble_burns(self) -> list[NobleBurn]:
        return self.burns[self.indexed_from :]

    async def bank_balance(self) -> Decimal:
        return self.bank

    async def noble_balance(self) -> Decimal:
        return self.noble

    async def send_to_noble(self, amount: Decimal) -> str:
        self.calls.append(("send_to_noble", amount))
        if self.rate_limited:
            raise DydxTxRejectedError("the IBC transfer", "would exceed rate-limit capacity", 1001, "ratelimit")
        self.bank -= amount
        self.noble += amount
        return "IBC"

    async def burn_to_ethereum(self, amount: Decimal, recipient: str) -> str:
        self.calls.append(("burn", amount))
        assert amount <= self.noble
        self.noble -= amount
        tx_hash = f"BURN{len(self.burns)}"
        self.burns.append(NobleBurn(tx_hash, amount, recipient, len(self.burns) + 1))
        return tx_hash

    async def noble_to_dydx(self, amount: Decimal) -> str:
        self.calls.append(("noble_to_dydx", amount))
        self.noble -= amount
        self.bank += amount
        return "IBC"

    async def deposit(self, amount: Decimal) -> str:
        self.calls.append(("deposit", amount))
        assert amount <= self.bank
        self.bank -= amount
        self.subaccount += amount
        return "DEP"

    # Circle's attestation service
    async def messages(self, source_domain: int, tx_hash: str) -> list[AttestedMessage]:
        assert source_domain == NOBLE_DOMAIN
        if self.attestation_route_away:
            raise DydxConnectionError("attestation service: away")
        [index] = [i for i, burn in enumerate(self.burns) if burn.tx_hash == tx_hash]
        burn = self.burns[index]
        message = CctpMessage(index, NOBLE_DOMAIN, 0, burn.recipient, int(burn.amount * UNIT)).encode()
        return [AttestedMessage(message, b"signed" if tx_hash in self.attested else None)]

    def attest_all(self) -> None:
        self.attested |= {burn.tx_hash for burn in self.burns}


def venue(route: Route) -> DydxVenue:
    contract = route.contract
    return DydxVenue(
        route,  # type: ignore[arg-type]
        contract,  # type: ignore[arg-type]
        route,  # type: ignore[arg-type]
        ADAPTER,
        pending_withdrawals=lambda: contract.pending,
        adapter_usdc=lambda: contract.held,
    )


async def withdraw_margin(v: DydxVenue, route: Route, amount: Decimal) -> None:
    """As `Seat.withdraw_margin`: the venue first, then the request on chain, then the collection."""
    await v.withdraw(amount)
    route.contract.pending += int(amount * UNIT)
    await v.pay_withdrawals()
    route.contract.claim()


async def collect(v: DydxVenue, route: Route) -> None:
    """Circle attests every burn; the seat pays them and the vault collects."""
    route.attest_all()
    await v.pay_withdrawals()
    route.contract.claim()


def test_a_withdrawal_is_burned_towards_the_adapter_and_collected() -> None:
    route = Route(Contract())
    v = venue(route)

    async def scenario() -> None:
        await withdraw_margin(v, route, D(100))
        assert route.burns == [NobleBurn("BURN0", D(100), ADAPTER, 1)]
        assert route.contract.pending == 100 * UNIT  # burned, not attested yet
        await v.move_funds()
        await collect(v, route)
        assert route.contract.pending == 0 and route.contract.held == 0
        assert (route.subaccount, route.bank, route.noble) == (D(900), D(0), D(0))
        assert ("deposit", D(100)) not in route.calls

    asyncio.run(scenario())


def test_a_rate_limited_withdrawal_does_not_hold_a_deposit_back_on_noble() -> None:
    """A withdrawal of 100 waits in the bank on x/ratelimit while the vault deposits 60, minted on Noble: the 60 on
    Noble pays the pending withdrawal and 60 of the bank's 100 goes into the subaccount (it raised at the refused IBC
    leg before, and the deposit stayed on Noble while the rate limit lasted)."""
    route = Route(Contract())
    v = venue(route)

    async def scenario() -> None:
        route.rate_limited = True
        await withdraw_margin(v, route, D(100))  # waits in the bank
        assert (route.bank, route.burns) == (D(100), [])
        route.noble += D(60)  # the vault's deposit, minted on Noble
        await v.move_funds()
        assert route.subaccount == D(960), route.calls
        assert [(b.amount, b.recipient) for b in route.burns] == [(D(60), ADAPTER)]
        assert (route.bank, route.noble) == (D(40), D(0))
        await v.move_funds()  # still rate-limited: the 40 owed waits in the bank, nothing else moves
        assert (route.subaccount, route.bank, route.noble) == (D(960), D(40), D(0))
        route.rate_limited = False
        await v.move_funds()
        await collect(v, route)
        assert [b.amount for b in route.burns] == [D(60), D(40)]
        assert (route.subaccount, route.bank, route.noble, route.contract.pending) == (D(960), D(0), D(0), 0)

    asyncio.run(scenario())


def test_a_withdrawal_not_yet_recorded_or_searched_is_not_deposited_back() -> None:
    """The withdrawal's USDC is in the bank whatever a transaction search lists: what is owed comes from the
    withdrawal made (until the seat records it on chain) and the contract's pending withdrawals after."""
    route = Route(Contract())
    v = venue(route)

    async def scenario() -> None:
        route.rate_limited = True  # the USDC stays in the bank through every step
        await v.withdraw(D(100))  # move_funds before the request is on chain
        assert ("deposit", D(100)) not in route.calls
        route.contract.pending += 100 * UNIT
        await v.move_funds()
        await v.move_funds()
        assert ("deposit", D(100)) not in route.calls and route.bank == D(100)

    asyncio.run(scenario())


def test_a_noble_node_missing_old_burns_does_not_burn_a_deposit_back_to_the_vault() -> None:
    """A Noble node whose index starts later lists none of the old (paid, collected) burns: the vault's next
    deposit, minted on Noble, goes into the subaccount, not back to the seat adapter."""
    route = Route(Contract())
    v = venue(route)

    async def scenario() -> None:
        await withdraw_margin(v, route, D(100))
        await collect(v, route)
        assert route.contract.pending == 0 and route.burns
        route.indexed_from = len(route.burns)  # the node serving the keeper now has no index of them
        route.noble += D(500)
        await v.move_funds()
        assert len(route.burns) == 1, f"the deposit was burned back to the vault: {route.calls}"
        assert route.subaccount == D(1400)

    asyncio.run(scenario())


def test_unpaid_burns_are_counted_across_a_restart() -> None:
    """A burn not yet attested (or attested and not paid) is on its way to the vault: a restarted seat (nothing
    remembered) reads it from Noble's recent burns and the bridge, and neither burns it again nor deposits more."""
    route = Route(Contract())

    async def scenario() -> None:
        await withdraw_margin(venue(route), route, D(100))
        route.noble += D(30)  # a deposit arrives
        restarted = venue(route)
        await restarted.move_funds()
        assert [b.amount for b in route.burns] == [D(100)]
        assert route.subaccount == D(930)
        route.attest_all()  # attested, not yet paid: still on its way
        again = venue(route)
        await again.move_funds()
        assert [b.amount for b in route.burns] == [D(100)]
        await again.pay_withdrawals()
        assert route.contract.held == 100 * UNIT  # paid, not collected: still not owed
        await venue(route).move_funds()
        route.contract.claim()
        await venue(route).move_funds()
        assert [b.amount for b in route.burns] == [D(100)] and route.contract.pending == 0
        assert (route.subaccount, route.bank, route.noble) == (D(930), D(0), D(0))

    asyncio.run(scenario())


def test_a_burn_of_unknown_payment_holds_the_legs() -> None:
    """With the attestation route away and a burn not known paid, what is owed is unknown: no leg moves (either guess
    moves money the wrong way); a burn known paid before does not need the route."""
    route = Route(Contract())
    v = venue(route)

    async def scenario() -> None:
        await withdraw_margin(v, route, D(100))
        route.attestation_route_away = True
        route.noble += D(50)
        try:
            await v.move_funds()
        except DydxError:
            pass
        else:
            raise AssertionError("moved funds without knowing what is owed")
        assert route.noble == D(50) and len(route.burns) == 1
        route.attestation_route_away = False
        await collect(v, route)  # the 50 paid the rest of nothing owed: deposited
        assert route.subaccount == D(950)
        route.attestation_route_away = True
        route.noble += D(20)
        await v.move_funds()  # every burn known paid
        assert route.subaccount == D(970)

    asyncio.run(scenario())


def test_the_fee_reserve_stays_on_each_chain() -> None:
    route = Route(Contract())
    route.settings.fee_reserve = D(2)
    v = venue(route)

    async def scenario() -> None:
        route.noble = D(2)
        route.bank = D(2)
        await v.move_funds()
        assert route.calls == []  # the float is neither swept nor counted as a deposit
        route.noble += D(50)
        await v.move_funds()
        assert (route.subaccount, route.bank, route.noble) == (D(1050), D(2), D(2))
        await withdraw_margin(v, route, D(100))
        await collect(v, route)
        assert (route.subaccount, route.bank, route.noble) == (D(950), D(2), D(2))
        assert [b.amount for b in route.burns] == [D(100)]

    asyncio.run(scenario())
