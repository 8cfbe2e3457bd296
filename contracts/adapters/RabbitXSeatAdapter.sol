// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {IRabbitXCustody} from "../interfaces/venues/IRabbitXCustody.sol";
import {SeatAdapterBase} from "./SeatAdapterBase.sol";

/// @title RabbitXSeatAdapter
/// @notice The vault's seat at a RabbitX-style exchange that matches off chain behind its API. This contract is the
///         exchange account: it deposits margin into the exchange's custody contract (`target`), receives the
///         withdrawals the exchange signs (anyone submits them to custody, which pays this contract), and lets the
///         trading module's executors trade for it through the API (`isValidSigner`, ERC-6551's shape, as Elixir's
///         RabbitX router delegates trading for a contract account).
contract RabbitXSeatAdapter is SeatAdapterBase {
    /// @notice `IERC6551Account.isValidSigner`'s magic value: the signer may act for this account.
    bytes4 public constant VALID_SIGNER = 0x523e3260;

    /// @param tradingModule_ The only caller of the margin functions; its executors act for this account.
    /// @param custody The exchange's custody contract.
    /// @param markets The exchange's parameters per vault market id.
    /// @param fundingCapsPerSecond Per vault market id, the largest funding-index step per second of a report.
    constructor(
        address tradingModule_,
        IRabbitXCustody custody,
        MarketParams[] memory markets,
        uint256[] memory fundingCapsPerSecond
    )
        SeatAdapterBase(
            tradingModule_, address(custody), custody.paymentToken(), markets, fundingCapsPerSecond
        )
    {}

    /// @notice Whether `signer` may act for this account at the exchange (ERC-6551's `isValidSigner`): the trading
    ///         module's executors may; the exchange asks this when the keeper onboards the account.
    /// @param signer The key that signed for the account.
    /// @return magicValue `VALID_SIGNER` if it may, zero otherwise.
    function isValidSigner(address signer, bytes calldata) external view returns (bytes4 magicValue) {
        return IAccessControl(tradingModule).hasRole(EXECUTOR_ROLE, signer) ? VALID_SIGNER : bytes4(0);
    }

    /// @dev Deposits into the exchange's custody, credited by the exchange after its confirmations.
    function _sendMargin(uint256 amount) internal override returns (uint256 depositId) {
        return IRabbitXCustody(target).deposit(amount);
    }
}
