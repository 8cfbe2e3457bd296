// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPrimeVault} from "../interfaces/IPrimeVault.sol";
import {ITradingModule} from "../interfaces/ITradingModule.sol";

/// @title HealthAwareTrader
/// @notice Integrator example: a trading bot that is an operator (PERMISSION_TRADE) of a sub-account, reads
///         the account's health from the vault and only submits an order while the account keeps a margin
///         of safety over its initial requirement. An example for integrators (exercised by
///         `tests/contracts/IntegratorExample.t.sol`), not part of the protocol: nothing deploys it.
contract HealthAwareTrader {
    /// @notice The account's equity is below `minHealthBps` of its initial requirement.
    error TooLittleHeadroom(int256 equity, uint256 initialRequirement);
    /// @notice Only `account`'s owner may trade it through the bot.
    error NotTheOwner(address caller, address account);

    IPrimeVault public immutable vault;
    ITradingModule public immutable trading;
    uint256 public immutable minHealthBps; // e.g. 15_000: equity must be 1.5x the initial requirement

    constructor(IPrimeVault vault_, ITradingModule trading_, uint256 minHealthBps_) {
        (vault, trading, minHealthBps) = (vault_, trading_, minHealthBps_);
    }

    /// @notice Submits an order for `account` if its health allows; returns the order id. Its owner only.
    /// @dev This contract must hold PERMISSION_TRADE on `account` (`vault.setOperator`). Caveat for anyone who
    ///      copies it: an operator contract acts with the permissions owners gave it, so it must check who calls
    ///      it; without the owner check, anyone could trade every account that made the bot its operator.
    function trade(address account, uint8 market, int256 size, uint256 limitPrice)
        external
        returns (uint256)
    {
        if (msg.sender != vault.ownerOf(account)) revert NotTheOwner(msg.sender, account);
        IPrimeVault.AccountHealth memory h = vault.accountHealth(account);
        if (h.equity * 10_000 < int256(h.initialRequirement * minHealthBps)) {
            revert TooLittleHeadroom(h.equity, h.initialRequirement);
        }
        return trading.submitOrder(account, market, size, limitPrice, block.timestamp + 10 minutes, false);
    }
}
