// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SeatFixture} from "./utils/SeatFixture.sol";
import {ITradingModule} from "../../contracts/interfaces/ITradingModule.sol";

/// @notice Gas of the asynchronous order protocol (v2), into the same snapshot as `Gas.t.sol`, at a seat (a
///         RabbitX-style exchange's account, `RabbitXSeatAdapter`): children live at the venues that match off
///         chain, while the local on-chain venues fill within `execute`. The issue's targets: a commit at most
///         120,000 + 60,000 per child, a fill report at most 90,000. Met and asserted: a buy's and a sell's
///         commit by an account with collateral and no position (1 and 2 children) or holding a position, each
///         extra child, and a fill in the keeper's batches (`reportFills`): from five a batch for a fill that leaves
///         its child open, from seven for one that closes its child and order. Recorded without the target: a fill
///         reported alone, which cannot be trimmed under 90,000 while it does what a fill must (the transaction's
///         21,000, a new fill-id slot, the oracle for the band, the venue's funding index and the vault's
///         settlement; README, "Deviations chosen").
contract AsyncOrderGasTest is SeatFixture {
    string internal constant GROUP = "PrimeVault";
    address internal carol = makeAddr("carol");

    function setUp() public override {
        super.setUp();
        _deposit(alice, alice, weth, 100e18);
        _deposit(bob, bob, weth, 100e18);
        // Steady operation: the seat has filled for two accounts before, alice holds a position there, and
        // the list of child orders exists.
        _seatFill(
            _commitOne(_submit(bob, bob, BTC_MARKET, 0.1e18, 61_000e18), SEAT, 0.1e18, 61_000e18), 0.1e18
        );
        _seatFill(
            _commitOne(_submit(alice, alice, BTC_MARKET, 0.1e18, 61_000e18), SEAT, 0.1e18, 61_000e18), 0.1e18
        );
        _commitOne(_submit(bob, bob, BTC_MARKET, 0.1e18, 61_000e18), SEAT, 0.1e18, 61_000e18);
    }

    /// @dev The exchange fills `size` of child `childId` at 60,000 with a 0.05% taker fee, and the executor
    ///      reports it.
    function _seatFill(uint256 childId, uint256 size) internal {
        vm.prank(keeper);
        trading.reportFill(childId, _nextFillId(), 60_000e18, size, size * 60_000 * 5 / 10_000 / 1e12);
    }

    /// @dev An account with collateral and no position yet: the opening trade.
    function test_gas_commitSplit() public {
        _deposit(carol, carol, weth, 100e18);
        uint256 one = _submit(carol, carol, BTC_MARKET, 1e18, 61_000e18);
        uint256 two = _submit(carol, carol, BTC_MARKET, 1e18, 61_000e18);
        _commitOne(one, SEAT, 1e18, 61_000e18);
        uint256 single = vm.snapshotGasLastCall(GROUP, "commit: 1 child");
        assertLe(single, 120_000 + 60_000, "commit of one child");
        _commitTwo(two, 0.6e18, 0.4e18, 61_000e18);
        uint256 split = vm.snapshotGasLastCall(GROUP, "commit: 2 children");
        assertLe(split, 120_000 + 2 * 60_000, "commit of two children");
    }

    /// @dev A sell reads the oracle too (it reserves at the higher of its limit and the mark).
    function test_gas_commitSell() public {
        _deposit(carol, carol, weth, 100e18);
        _commitOne(_submit(carol, carol, BTC_MARKET, -1e18, 59_000e18), SEAT, 1e18, 59_000e18);
        assertLe(vm.snapshotGasLastCall(GROUP, "commit: 1 child, sell"), 120_000 + 60_000, "a sell's commit");
    }

    /// @dev The marginal child, on one account with the same history for both commits.
    function test_gas_commitExtraChild() public {
        _commitOne(_submit(alice, alice, BTC_MARKET, 1e18, 61_000e18), SEAT, 1e18, 61_000e18);
        uint256 single = vm.snapshotGasLastCall(GROUP, "commit: 1 child, account with a position");
        assertLe(single, 120_000 + 60_000, "commit of one child by an account holding a position");
        _commitTwo(_submit(alice, alice, BTC_MARKET, 1e18, 61_000e18), 0.6e18, 0.4e18, 61_000e18);
        uint256 split = vm.lastCallGas().gasTotalUsed;
        vm.snapshotValue(GROUP, "commit: extra child", split - single);
        assertLe(split - single, 60_000, "each extra child");
    }

    function test_gas_reportFill() public {
        uint256 child = _commitOne(_submit(alice, alice, BTC_MARKET, 1e18, 61_000e18), SEAT, 1e18, 61_000e18);
        _seatFill(child, 0.4e18);
        _seatFill(child, 0.3e18);
        uint256 partial_ = vm.snapshotGasLastCall(GROUP, "fill report");
        _seatFill(child, 0.3e18);
        uint256 last = vm.snapshotGasLastCall(GROUP, "fill report: last, order done");
        assertGt(last, partial_, "the last fill also closes the child and the order");
    }

    /// @dev Fills of `n` accounts, each holding a position at the seat, booked in one `reportFills` (as the keeper
    ///      sends the fills that arrive together, and those that arrive while a report is on its way): what each
    ///      fill costs when the call, the executor's role, the oracle, the venue's funding index and the seat's
    ///      book are paid for once. Each fill is `size` of a 0.1 child: half leaves it open, all of it closes it.
    ///      Returns the gas of the whole call.
    function _reportBatch(uint256 n, uint256 size) internal returns (uint256) {
        ITradingModule.FillReport[] memory fills = new ITradingModule.FillReport[](n);
        for (uint256 i; i < n; ++i) {
            address trader = makeAddr(string.concat("trader", vm.toString(i)));
            _deposit(trader, trader, weth, 100e18);
            _seatFill(
                _commitOne(_submit(trader, trader, BTC_MARKET, 0.1e18, 61_000e18), SEAT, 0.1e18, 61_000e18),
                0.1e18
            );
            uint256 child =
                _commitOne(_submit(trader, trader, BTC_MARKET, 0.1e18, 61_000e18), SEAT, 0.1e18, 61_000e18);
            fills[i] = ITradingModule.FillReport(
                child, _nextFillId(), 60_000e18, size, size * 60_000 * 5 / 10_000 / 1e12
            );
        }
        vm.prank(keeper);
        assertEq(trading.reportFills(fills), n);
        uint256 gasUsed = vm.lastCallGas().gasTotalUsed;
        ITradingModule.ChildStatus expected =
            size == 0.1e18 ? ITradingModule.ChildStatus.Filled : ITradingModule.ChildStatus.Open;
        assertEq(uint8(trading.childOrder(fills[n - 1].childId).status), uint8(expected));
        return gasUsed;
    }

    /// @dev What a fill costs in a batch of `n` fills of `size` (`_reportBatch`), recorded in the snapshot as `name`.
    function _perFill(uint256 n, uint256 size, string memory name) internal returns (uint256 perFill) {
        perFill = _reportBatch(n, size) / n;
        vm.snapshotValue(GROUP, name, perFill);
    }

    function test_gas_reportFillsInABatch() public {
        uint256 total = _reportBatch(10, 0.05e18);
        vm.snapshotValue(GROUP, "fill report: 10 in a batch", total);
        vm.snapshotValue(GROUP, "fill report: per fill in a batch of 10", total / 10);
        assertLe(total / 10, 90_000, "a fill in a batch of ten");
    }

    /// @dev The smallest batch in which a fill costs at most 90,000: the fixed part (the transaction's 21,000,
    ///      the executor's role, the oracle, the funding index, the seat's book, each read once a report) shared
    ///      by five.
    function test_gas_reportFillsInABatchOfFive() public {
        uint256 perFill = _perFill(5, 0.05e18, "fill report: per fill in a batch of 5");
        assertLe(perFill, 90_000, "a fill in a batch of five");
    }

    /// @dev Two fills together already cost each a fifth less than one alone.
    function test_gas_reportFillsInABatchOfTwo() public {
        uint256 perFill = _perFill(2, 0.05e18, "fill report: per fill in a batch of 2");
        assertLe(perFill, 115_000, "a fill in a batch of two");
    }

    /// @dev Fills that each close their child and its order (an IOC child filled whole by one fill, the keeper's
    ///      usual case): closing both costs about 5,600 more a fill than a fill that leaves its child open (the
    ///      order's count of open children, its status and `OrderDone`), so it takes seven a batch to meet 90,000.
    function test_gas_reportFillsClosingTheirChildrenInABatchOfSeven() public {
        uint256 perFill = _perFill(7, 0.1e18, "fill report: per fill closing its child in a batch of 7");
        assertLe(perFill, 90_000, "a closing fill in a batch of seven");
    }

    function test_gas_reportFillsClosingTheirChildrenInABatchOfFifty() public {
        uint256 perFill = _perFill(50, 0.1e18, "fill report: per fill closing its child in a batch of 50");
        assertLe(perFill, 83_000, "a closing fill in the keeper's largest batch");
    }

    function test_gas_expireChild() public {
        uint256 child = _commitOne(_submit(alice, alice, BTC_MARKET, 1e18, 61_000e18), SEAT, 1e18, 61_000e18);
        vm.warp(block.timestamp + 10 minutes + 1);
        vm.prank(keeper);
        trading.expireChild(child);
        vm.snapshotGasLastCall(GROUP, "expire child");
        assertEq(uint8(trading.childOrder(child).status), uint8(ITradingModule.ChildStatus.Expired));
    }
}
