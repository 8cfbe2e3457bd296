// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {IAggregatorV3} from "../../../../contracts/interfaces/IAggregatorV3.sol";

/// @notice A feed whose answer costs about 25,000 gas to read even warm (a derived or TWAP feed's computation), with
///         `MockPriceFeed`'s storage layout, so that a fixture's feed keeps its answer and `setAnswer` once its code
///         is replaced by this one with `vm.etch`.
contract CostlyPriceFeed is IAggregatorV3, Ownable {
    uint8 public immutable override decimals;
    string public override description;
    uint80 internal _roundId;
    int256 internal _answer;
    uint256 internal _updatedAt;

    constructor(uint8 decimals_) Ownable(msg.sender) {
        decimals = decimals_;
    }

    function version() external pure returns (uint256) {
        return 4;
    }

    function setAnswer(int256 answer) external onlyOwner {
        ++_roundId;
        (_answer, _updatedAt) = (answer, block.timestamp);
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        bytes32 work;
        for (uint256 i; i < 200; ++i) {
            work = keccak256(abi.encode(work, i));
        }
        // `work` is never zero in practice; the comparison only keeps the loop from being optimised away.
        int256 answer = work == bytes32(0) ? int256(0) : _answer;
        return (_roundId, answer, _updatedAt, _updatedAt, _roundId);
    }
}
