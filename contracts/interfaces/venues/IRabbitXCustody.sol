// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IRabbitXCustody
/// @notice The chain side of a RabbitX-style exchange, as RabbitX's own contract has it: it takes deposits and pays
///         withdrawals the exchange signed; trading happens off chain behind the exchange's API.
/// @dev Caveat: a deposit is credited by the exchange only after some confirmations, and a withdrawal is requested
///      through the API first; neither is synchronous with the transaction that moves the tokens.
interface IRabbitXCustody {
    /// @notice The margin token deposits pull and withdrawals pay.
    function paymentToken() external view returns (IERC20);

    /// @notice Pulls `amount` of the payment token from the caller, to be credited to the caller's exchange account.
    /// @return id The deposit's id, as in the `Deposit(id, trader, amount)` event.
    function deposit(uint256 amount) external returns (uint256 id);

    /// @notice Pays withdrawal `id` of `amount` to `trader` with the exchange signer's EIP-712 signature; anyone may
    ///         submit it, each id pays once.
    function withdraw(uint256 id, address trader, uint256 amount, uint8 v, bytes32 r, bytes32 s) external;
}
