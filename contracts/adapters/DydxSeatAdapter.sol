// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {ICctpBridge} from "../interfaces/venues/ICctpBridge.sol";
import {SeatAdapterBase} from "./SeatAdapterBase.sol";

/// @title DydxSeatAdapter
/// @notice The vault's seat at dYdX v4, a chain of its own: margin goes to the keeper's dYdX subaccount through a
///         CCTP-shaped bridge (`depositForBurn` to Noble, minted to the keeper's `noble1` address, the same 20
///         bytes as its `dydx1` one; the keeper carries it on over IBC into the subaccount) and comes back the same
///         way (the bridge's `receiveMessage` pays this contract; `claimWithdrawal` forwards it to the vault).
/// @dev Custody: unlike a RabbitX-style account, which is this contract's own with trading delegated, the dYdX
///      subaccount belongs to the keeper's mnemonic outright; dYdX's permissioned keys can separate trading from
///      withdrawal there. What the vault can lose to that key is bounded here by `marginCap`.
contract DydxSeatAdapter is SeatAdapterBase {
    /// @notice The bridge's domain of the dYdX chain (Noble's, through which USDC reaches dYdX).
    uint32 public immutable destinationDomain;
    /// @notice The keeper's address (its 20 bytes, left-padded), `noble1...` where the bridge mints and `dydx1...`
    ///         where the subaccount is: one key, two bech32 prefixes.
    bytes32 public immutable mintRecipient;

    /// @param tradingModule_ The only caller of the margin functions; its executors report for this seat.
    /// @param bridge The CCTP-shaped bridge.
    /// @param usdc_ The margin token.
    /// @param destinationDomain_ The dYdX side's domain.
    /// @param mintRecipient_ The keeper's address bytes that receive the margin on Noble.
    /// @param markets dYdX's parameters per vault market id.
    /// @param fundingCapsPerSecond Per vault market id, the largest funding-index step per second of a report.
    constructor(
        address tradingModule_,
        ICctpBridge bridge,
        IERC20 usdc_,
        uint32 destinationDomain_,
        bytes32 mintRecipient_,
        MarketParams[] memory markets,
        uint256[] memory fundingCapsPerSecond
    ) SeatAdapterBase(tradingModule_, address(bridge), usdc_, markets, fundingCapsPerSecond) {
        (destinationDomain, mintRecipient) = (destinationDomain_, mintRecipient_);
    }

    /// @dev Sends through the bridge; the dYdX side credits it once the transfer is attested.
    function _sendMargin(uint256 amount) internal override returns (uint256 nonce) {
        return ICctpBridge(target).depositForBurn(amount, destinationDomain, mintRecipient, address(_usdc));
    }
}
