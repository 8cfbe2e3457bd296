// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ConstantsLib
/// @notice Protocol constants shared by the vault core, its liquidation module and the trading module.

/// @dev Basis points: 10,000 = 100%.
uint256 constant BPS = 10_000;

/// @dev 1e18 fixed point.
uint256 constant WAD = 1e18;

/// @dev The largest feed answer accepted. Collateral amounts fit 96 bits (an asset's total supplied is a
///      uint96), so every value the protocol computes stays below 2^224 and its products with basis points
///      and WAD fractions cannot overflow; a larger answer is a broken feed, refused like a non-positive one.
uint256 constant MAX_PRICE = type(uint128).max;

/// @dev The largest amount one deposit, transfer, borrow or collateral purchase may name, in token units: an asset's
///      total supplied and supply cap are uint96, so no collateral balance can hold more, and a base amount this size
///      is already past any token's supply (79 billion tokens of 18 decimals). Larger amounts are refused up front
///      (`AmountTooLarge`) instead of overflowing the valuation and the balance casts.
uint256 constant MAX_AMOUNT = type(uint96).max;

/// @dev The largest annual rate (WAD) of each part of the rate model -- base, slope below and above the kink:
///      1,000% a year, so the borrow rate stays under 3,000%. Indexes are uint64 (18,446x their start) and every
///      action accrues first, setting a new model included: a model that could grow an index past that within days
///      (10^26 a year does within one) would stop the vault for good.
uint256 constant MAX_RATE_PER_YEAR = 10e18;

/// @dev The most decimals a collateral asset's feed may have: with tokens of at most 18 decimals, a valuation's
///      scale exponent stays at most 54, inside the 77 that `MathLib.pow10` takes.
uint256 constant MAX_FEED_DECIMALS = 36;

/// @dev Partial liquidation restores equity to the maintenance requirement plus this share of it.
uint256 constant LIQUIDATION_TARGET_BUFFER_BPS = 500;

/// @dev A position taken over by the backstop pays at most this share of its maintenance margin as
///      penalty (1% of notional at a 5% maintenance margin).
uint256 constant PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS = 2000;

/// @dev The executor unwinds backstop positions at the venues within this band around the oracle mark.
uint256 constant BACKSTOP_PRICE_BAND_BPS = 500;

/// @dev The most fee a reported venue fill may charge, as a share of its notional: 0.5%, seven times RabbitX's
///      taker fee (0.07%) and ten times dYdX v4's first tier (0.05%). The fee is the executor's word, so it is
///      bounded like the price and the size.
uint256 constant MAX_FILL_FEE_BPS = 50;

/// @dev Seconds after a child order's deadline during which only the executor may expire it. A fill the venue made
///      before the deadline may still be on its way to the chain; had anyone been able to expire the child at once,
///      its owner could do so whenever the market moved against the fill, and the fill would be booked to the
///      protocol's backstop instead (a free option paid by reserves). The executor, who reports fills, expires its
///      children at the deadline; anyone can after this grace, when a keeper that went away has left them open.
uint256 constant CHILD_EXPIRY_GRACE = 1 hours;
