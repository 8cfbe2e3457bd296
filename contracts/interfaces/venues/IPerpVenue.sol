// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IPerpVenue
/// @notice What every perp venue the adapters trade on has in common: the token margin is posted in, and
///         the shape in which it reports a market's parameters. Each venue kind extends it with its own API
///         (`IDydxStyleVenue`, `IRabbitStyleVenue`).
/// @dev Units of `Market`: sizes in base-asset WAD (1e18 = one BTC), prices in USD WAD per base unit,
///      fractions in ppm, funding in USD WAD per base unit. Adapters depend on these interfaces only, never
///      on a venue's implementation.
interface IPerpVenue {
    /// @notice A market's parameters at the venue, in the units above.
    struct Market {
        address feed; // the price feed the venue marks the market to
        uint32 maxStaleness; // seconds after which the venue refuses the feed's answer
        uint32 initialMarginPpm;
        uint32 maintenanceMarginPpm;
        uint32 takerFeePpm;
        uint32 halfSpreadPpm;
        bool listed;
        uint256 depth; // base WAD at which marginal impact reaches 100%: avg impact = size / (2 x depth)
        uint256 stepSize; // base WAD
        uint256 tickSize; // USD WAD
        int256 fundingRatePerSecond; // WAD fraction of mark per second; positive: longs pay shorts
        int256 cumulativeFunding; // USD WAD per base WAD unit, as of `lastFundingTime`
        uint256 lastFundingTime;
    }

    /// @notice The token (USDC) margin is deposited, settled and withdrawn in.
    function usdc() external view returns (IERC20);
}
