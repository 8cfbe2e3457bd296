// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title TokenReadLib
/// @notice Reading a listed token's balance where a token that does not answer must not stop the caller: the
///         liquidation's write-off of bad debt and the store front's shares of a hedge.
library TokenReadLib {
    /// @notice The most gas a token's `balanceOf` gets: ample for any token's (an upgradeable proxy's included, under
    ///         30,000), bounded so that one burning gas cannot leave a liquidation batch too little to finish.
    uint256 internal constant BALANCE_READ_GAS = 100_000;

    /// @notice `holder`'s balance of `token`, or 0 if the token does not answer `balanceOf` within BALANCE_READ_GAS
    ///         (paused, upgraded into something broken, blocklisting the holder, burning gas), answers with too little
    ///         data, or answers beyond 2^128 - 1 (far above the 2^96 - 1 the vault books of an asset).
    /// @dev Counting such a token as holding nothing only understates what the vault holds.
    function tryBalanceOf(address token, address holder) internal view returns (uint256 balance) {
        (bool success, bytes memory data) =
            token.staticcall{gas: BALANCE_READ_GAS}(abi.encodeCall(IERC20.balanceOf, (holder)));
        if (!success || data.length < 32) return 0;
        balance = abi.decode(data, (uint256));
        if (balance > type(uint128).max) return 0;
    }
}
