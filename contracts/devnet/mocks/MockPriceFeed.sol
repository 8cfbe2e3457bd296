// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {IAggregatorV3} from "../../interfaces/IAggregatorV3.sol";

/// @title MockPriceFeed
/// @notice Chainlink-shaped feed for local chains whose answer the owner sets. Devnet and tests only: never
///         deploy to a real chain.
contract MockPriceFeed is IAggregatorV3, Ownable {
    /// @notice A new answer was written.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    uint8 public immutable override decimals;
    string public override description;
    uint80 internal _roundId;
    int256 internal _answer;
    uint256 internal _updatedAt;

    constructor(string memory description_, uint8 decimals_, int256 initialAnswer, address owner_)
        Ownable(owner_)
    {
        description = description_;
        decimals = decimals_;
        _write(initialAnswer, block.timestamp);
    }

    /// @notice Sets the answer, stamped with the current block time. Owner only.
    function setAnswer(int256 answer) external onlyOwner {
        _write(answer, block.timestamp);
    }

    /// @notice Sets the answer with an explicit update time (to simulate a stale feed). Owner only.
    function setRoundData(int256 answer, uint256 updatedAt) external onlyOwner {
        _write(answer, updatedAt);
    }

    /// @inheritdoc IAggregatorV3
    function version() external pure returns (uint256) {
        return 4;
    }

    /// @inheritdoc IAggregatorV3
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return (_roundId, _answer, _updatedAt, _updatedAt, _roundId);
    }

    function _write(int256 answer, uint256 updatedAt) internal {
        ++_roundId;
        (_answer, _updatedAt) = (answer, updatedAt);
        emit AnswerUpdated(answer, _roundId, updatedAt);
    }
}
