// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "forge-std/Test.sol";

import {IPrimeVaultErrors} from "../../../contracts/interfaces/IPrimeVaultErrors.sol";
import {MAX_PRICE} from "../../../contracts/libraries/ConstantsLib.sol";
import {MockPriceFeed} from "../../../contracts/devnet/mocks/MockPriceFeed.sol";
import {OracleLibHarness} from "./harnesses/OracleLibHarness.sol";

/// @dev A feed whose `latestRoundData` reverts in one of several ways.
contract RevertingFeed {
    error FeedDown();

    uint256 public mode;

    function setMode(uint256 mode_) external {
        mode = mode_;
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        if (mode == 0) revert("feed down");
        if (mode == 1) revert FeedDown();
        if (mode == 2) revert();
        assert(false); // mode 3: a panic
        return (0, 0, 0, 0, 0);
    }
}

/// @dev A "feed" that answers every call with a single word: too short to decode as `latestRoundData`.
contract MalformedFeed {
    fallback() external {
        assembly {
            mstore(0, 2000)
            return(0, 32)
        }
    }
}

/// @notice Answers a fresh 2,000 price whose round id does not fit the uint80 the interface declares.
contract DirtyRoundIdFeed {
    fallback() external {
        uint256 roundId = 1 << 80;
        uint256 updatedAt = block.timestamp;
        assembly {
            mstore(0, roundId)
            mstore(32, 2000)
            mstore(64, updatedAt)
            mstore(96, updatedAt)
            mstore(128, 1)
            return(0, 160)
        }
    }
}

contract OracleLibTest is Test {
    uint256 internal constant STALENESS = 1 hours;
    int256 internal constant PRICE = 3000e8; // ETH / USD at 8 decimals

    OracleLibHarness internal lib;
    MockPriceFeed internal feed;
    RevertingFeed internal reverting;

    function setUp() public {
        vm.warp(1_700_000_000);
        lib = new OracleLibHarness();
        feed = new MockPriceFeed("ETH / USD", 8, PRICE, address(this));
        reverting = new RevertingFeed();
    }

    // ------------------------------------------------------------------ read

    function test_read_freshAnswer() public view {
        assertEq(lib.read(address(feed), STALENESS), 3000e8);
    }

    function test_read_answerExactlyMaxStalenessOldIsAccepted() public {
        // updatedAt + maxStaleness == now: not yet older than maxStaleness.
        feed.setRoundData(PRICE, block.timestamp - STALENESS);
        assertEq(lib.read(address(feed), STALENESS), 3000e8);
    }

    function test_read_answerOneSecondTooOldRevertsStale() public {
        uint256 updatedAt = block.timestamp - STALENESS - 1;
        feed.setRoundData(PRICE, updatedAt);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.OracleStalePrice.selector, address(feed), updatedAt, STALENESS
            )
        );
        lib.read(address(feed), STALENESS);
    }

    function test_read_ageingAnswerTurnsStale() public {
        uint256 updatedAt = block.timestamp;
        vm.warp(block.timestamp + STALENESS);
        assertEq(lib.read(address(feed), STALENESS), 3000e8);
        vm.warp(block.timestamp + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.OracleStalePrice.selector, address(feed), updatedAt, STALENESS
            )
        );
        lib.read(address(feed), STALENESS);
    }

    function test_read_zeroAnswerRevertsInvalid() public {
        feed.setAnswer(0);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.OracleInvalidPrice.selector, address(feed), 0)
        );
        lib.read(address(feed), STALENESS);
    }

    function test_read_negativeAnswerRevertsInvalid() public {
        feed.setAnswer(-1);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.OracleInvalidPrice.selector, address(feed), int256(-1))
        );
        lib.read(address(feed), STALENESS);

        feed.setAnswer(type(int256).min);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.OracleInvalidPrice.selector, address(feed), type(int256).min
            )
        );
        lib.read(address(feed), STALENESS);
    }

    /// @dev The answer is checked before its age: a stale zero reports the invalid price.
    function test_read_staleZeroAnswerReportsInvalidPrice() public {
        feed.setRoundData(0, block.timestamp - STALENESS - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.OracleInvalidPrice.selector, address(feed), 0)
        );
        lib.read(address(feed), STALENESS);
    }

    function test_read_smallestAndLargestPositiveAnswers() public {
        feed.setAnswer(1);
        assertEq(lib.read(address(feed), STALENESS), 1);
        feed.setAnswer(int256(MAX_PRICE));
        assertEq(lib.read(address(feed), STALENESS), MAX_PRICE);
    }

    /// @dev An answer above `MAX_PRICE` is a broken feed: refused like a non-positive one, so that no value
    ///      computed from a price can overflow (and stop a liquidation batch).
    function test_read_answerAboveMaxPriceRevertsInvalid() public {
        int256 tooHigh = int256(MAX_PRICE) + 1;
        feed.setAnswer(tooHigh);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.OracleInvalidPrice.selector, address(feed), tooHigh)
        );
        lib.read(address(feed), STALENESS);
        assertEq(lib.tryRead(address(feed), STALENESS), 0);
        feed.setAnswer(type(int256).max);
        assertEq(lib.tryRead(address(feed), STALENESS), 0);
    }

    function test_read_revertingFeedReverts() public {
        vm.expectRevert(bytes("feed down"));
        lib.read(address(reverting), STALENESS);
    }

    function testFuzz_read_acceptsExactlyFreshPositiveAnswers(
        int256 answer,
        uint256 age,
        uint256 maxStaleness
    ) public {
        maxStaleness = bound(maxStaleness, 1, type(uint32).max);
        age = bound(age, 0, block.timestamp);
        uint256 updatedAt = block.timestamp - age;
        feed.setRoundData(answer, updatedAt);

        if (answer <= 0 || uint256(answer) > MAX_PRICE) {
            vm.expectRevert(
                abi.encodeWithSelector(IPrimeVaultErrors.OracleInvalidPrice.selector, address(feed), answer)
            );
            lib.read(address(feed), maxStaleness);
        } else if (age > maxStaleness) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IPrimeVaultErrors.OracleStalePrice.selector, address(feed), updatedAt, maxStaleness
                )
            );
            lib.read(address(feed), maxStaleness);
        } else {
            assertEq(lib.read(address(feed), maxStaleness), uint256(answer));
        }
    }

    // ------------------------------------------------------------------ tryRead

    function test_tryRead_freshAnswer() public view {
        assertEq(lib.tryRead(address(feed), STALENESS), 3000e8);
    }

    function test_tryRead_answerExactlyMaxStalenessOldIsAccepted() public {
        feed.setRoundData(PRICE, block.timestamp - STALENESS);
        assertEq(lib.tryRead(address(feed), STALENESS), 3000e8);
    }

    function test_tryRead_staleAnswerReadsZero() public {
        feed.setRoundData(PRICE, block.timestamp - STALENESS - 1);
        assertEq(lib.tryRead(address(feed), STALENESS), 0);
    }

    function test_tryRead_zeroAndNegativeAnswersReadZero() public {
        feed.setAnswer(0);
        assertEq(lib.tryRead(address(feed), STALENESS), 0);
        feed.setAnswer(-1);
        assertEq(lib.tryRead(address(feed), STALENESS), 0);
        feed.setAnswer(type(int256).min);
        assertEq(lib.tryRead(address(feed), STALENESS), 0);
    }

    function test_tryRead_revertingFeedReadsZero() public {
        for (uint256 mode; mode < 4; ++mode) {
            reverting.setMode(mode);
            assertEq(lib.tryRead(address(reverting), STALENESS), 0, "revert kind");
        }
    }

    /// @dev Every answer `read` accepts, `tryRead` returns; every answer `read` refuses, `tryRead` reads as 0.
    function testFuzz_tryRead_agreesWithRead(int256 answer, uint256 age, uint256 maxStaleness) public {
        maxStaleness = bound(maxStaleness, 1, type(uint32).max);
        age = bound(age, 0, block.timestamp);
        feed.setRoundData(answer, block.timestamp - age);

        uint256 tried = lib.tryRead(address(feed), maxStaleness);
        try lib.read(address(feed), maxStaleness) returns (uint256 price) {
            assertGt(price, 0);
            assertEq(tried, price);
        } catch {
            assertEq(tried, 0);
        }
        assertEq(tried != 0, answer > 0 && uint256(answer) <= MAX_PRICE && age <= maxStaleness);
    }

    /// @dev A feed address without code answers with empty return data.
    function test_tryRead_feedWithoutCodeReadsZero() public {
        address noCode = makeAddr("retired feed");
        vm.expectRevert();
        lib.read(noCode, STALENESS);
        assertEq(lib.tryRead(noCode, STALENESS), 0);
    }

    /// @dev A feed that answers with fewer than the five words of `latestRoundData`.
    function test_tryRead_malformedAnswerReadsZero() public {
        address malformed = address(new MalformedFeed());
        vm.expectRevert();
        lib.read(malformed, STALENESS);
        assertEq(lib.tryRead(malformed, STALENESS), 0);
    }

    /// @dev A faulty `updatedAt` near 2**256 would overflow `updatedAt + maxStaleness`; both readers treat it
    ///      as a date in the future.
    function test_overflowingUpdatedAtIsNotFresh() public {
        feed.setRoundData(PRICE, type(uint256).max);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.OracleStalePrice.selector, address(feed), type(uint256).max, STALENESS
            )
        );
        lib.read(address(feed), STALENESS);
        assertEq(lib.tryRead(address(feed), STALENESS), 0);
    }

    /// @dev An answer dated even one second ahead of the chain would never turn stale: refused.
    function test_answerDatedInTheFutureIsNotFresh() public {
        feed.setRoundData(PRICE, block.timestamp + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.OracleStalePrice.selector, address(feed), block.timestamp + 1, STALENESS
            )
        );
        lib.read(address(feed), STALENESS);
        assertEq(lib.tryRead(address(feed), STALENESS), 0);
    }

    /// @dev `read`'s decoder refuses a round id wider than uint80; `tryRead` agrees and reads 0.
    function test_tryRead_outOfRangeRoundIdReadsZero() public {
        address dirty = address(new DirtyRoundIdFeed());
        vm.expectRevert();
        lib.read(dirty, STALENESS);
        assertEq(lib.tryRead(dirty, STALENESS), 0);
    }
}
