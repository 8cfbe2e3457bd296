// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AsyncOrderFixture} from "../utils/AsyncOrderFixture.sol";
import {DydxSeatAdapter} from "../../../contracts/adapters/DydxSeatAdapter.sol";
import {SeatAdapterBase} from "../../../contracts/adapters/SeatAdapterBase.sol";
import {IVenueAdapter} from "../../../contracts/interfaces/IVenueAdapter.sol";
import {ICctpBridge} from "../../../contracts/interfaces/venues/ICctpBridge.sol";
import {DevnetCctpBridge} from "../../../contracts/devnet/venues/DevnetCctpBridge.sol";

/// @notice The vault's seat at dYdX: margin crosses a CCTP-shaped bridge to the keeper's dYdX address and comes back
///         with the attester's signature, counted in flight until the dYdX side reports it credited.
contract DydxSeatAdapterTest is AsyncOrderFixture {
    uint256 internal constant ATTESTER_KEY = 0xa77e57;
    uint32 internal constant NOBLE = 4;
    uint32 internal constant ETHEREUM = 0;
    uint8 internal constant SEAT = 2;
    bytes32 internal constant DYDX_ADDRESS = bytes32(uint256(uint160(0xD7D7)));

    DevnetCctpBridge internal bridge;
    DydxSeatAdapter internal seat;

    function setUp() public override {
        super.setUp();
        bridge = new DevnetCctpBridge(usdc, ETHEREUM, vm.addr(ATTESTER_KEY), admin);
        IVenueAdapter.MarketParams[] memory markets = new IVenueAdapter.MarketParams[](2);
        markets[0] = IVenueAdapter.MarketParams(0.0001e18, 1e18, 50_000, 30_000, 500, 0, 0, 0);
        markets[1] = IVenueAdapter.MarketParams(0.001e18, 0.1e18, 50_000, 30_000, 500, 0, 0, 0);
        uint256[] memory caps = new uint256[](2);
        (caps[0], caps[1]) = (1e18, 0.05e18);
        seat = new DydxSeatAdapter(address(trading), bridge, usdc, NOBLE, DYDX_ADDRESS, markets, caps);
        vm.prank(admin);
        trading.addVenue(seat);
    }

    /// @dev A CCTP v1 message from Noble carrying a v1 burn message, packed as Circle's MessageTransmitter
    ///      emits it: version, domains, nonce, sender, recipient, destination caller (anyone), then the body.
    function _message(uint64 nonce, uint32 destination, address recipient, uint256 amount)
        internal
        pure
        returns (bytes memory)
    {
        return _messageFor(nonce, destination, recipient, amount, address(0));
    }

    function _messageFor(uint64 nonce, uint32 destination, address recipient, uint256 amount, address caller)
        internal
        pure
        returns (bytes memory)
    {
        bytes memory body = abi.encodePacked(
            uint32(0), keccak256("uusdc"), bytes32(uint256(uint160(recipient))), amount, DYDX_ADDRESS
        );
        return abi.encodePacked(
            uint32(0),
            NOBLE,
            destination,
            nonce,
            keccak256("noble token messenger"),
            keccak256("ethereum token messenger"),
            bytes32(uint256(uint160(caller))),
            body
        );
    }

    /// @dev Circle's attesters sign the message's keccak256 hash itself (no EIP-191 prefix).
    function _attest(uint256 key, bytes memory message) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, keccak256(message));
        return abi.encodePacked(r, s, v);
    }

    function test_marginCrossesTheBridgeToTheDydxAddress() public {
        vm.expectEmit(address(bridge));
        emit ICctpBridge.DepositForBurn(0, address(usdc), 40_000e6, address(seat), DYDX_ADDRESS, NOBLE);
        vm.expectEmit(address(seat));
        emit SeatAdapterBase.SeatDeposited(0, 40_000e6);
        vm.prank(keeper);
        trading.depositMargin(SEAT, 40_000e6);
        assertEq(usdc.balanceOf(address(bridge)), 40_000e6);
        assertEq(seat.depositsInFlight(), 40_000e6, "in flight until dYdX reports it credited");
        (int256 collateral,,) = seat.margin();
        assertEq(collateral, 40_000e6);
    }

    /// @dev Anyone may bridge to the seat's dYdX address, and dYdX credits it to the seat's subaccount: one unit sent
    ///      by someone else made the keeper's honest report credit more than the seat deposited, which was refused,
    ///      and every report after it while none of the seat's own deposits was in flight.
    function test_aUnitBridgedBySomeoneElseBlocksNoReport() public {
        vm.prank(keeper);
        trading.depositMargin(SEAT, 40_000e6);
        address griefer = makeAddr("griefer");
        _fund(griefer, usdc, 1);
        vm.startPrank(griefer);
        usdc.approve(address(bridge), 1);
        bridge.depositForBurn(1, NOBLE, DYDX_ADDRESS, address(usdc));
        vm.stopPrank();

        int256[] memory positions = new int256[](2);
        int256[] memory funding = new int256[](2);
        funding[0] = 1e18;
        vm.warp(block.timestamp + 1 hours);
        vm.prank(keeper);
        seat.report(positions, funding, 40_000e6 + 1, 0, 0, 40_000e6 + 1);
        assertEq(seat.fundingIndex(0), 1e18, "the report went");
        assertEq(seat.depositsInFlight(), 0);
        (int256 collateral,,) = seat.margin();
        assertEq(collateral, 40_000e6 + 1, "the griefer's unit counted once, in the collateral");
    }

    function test_marginComesBackWithTheAttestersSignatureOnce() public {
        vm.prank(keeper);
        trading.depositMargin(SEAT, 40_000e6);
        vm.prank(keeper);
        trading.requestMarginWithdrawal(SEAT, 15_000e6);
        bytes memory message = _message(7, ETHEREUM, address(seat), 15_000e6);
        bridge.receiveMessage(message, _attest(ATTESTER_KEY, message));
        uint256 vaultBefore = usdc.balanceOf(address(vault));
        vm.prank(keeper);
        assertEq(trading.claimMarginWithdrawals(SEAT), 15_000e6);
        assertEq(usdc.balanceOf(address(vault)), vaultBefore + 15_000e6);
        assertEq(seat.pendingWithdrawals(), 0);

        vm.expectRevert(abi.encodeWithSelector(DevnetCctpBridge.DevnetCctpBridgeNonceUsed.selector, NOBLE, 7));
        bridge.receiveMessage(message, _attest(ATTESTER_KEY, message));
    }

    function test_aMessageNotAttestedOrForAnotherChainPaysNothing() public {
        vm.prank(keeper);
        trading.depositMargin(SEAT, 40_000e6);
        bytes memory message = _message(1, ETHEREUM, address(seat), 15_000e6);
        bytes memory forged = _attest(0xbad, message);
        vm.expectRevert(
            abi.encodeWithSelector(
                DevnetCctpBridge.DevnetCctpBridgeInvalidAttestation.selector, vm.addr(0xbad)
            )
        );
        bridge.receiveMessage(message, forged);
        bytes memory elsewhere = _message(1, 9, address(seat), 15_000e6);
        vm.expectRevert(abi.encodeWithSelector(DevnetCctpBridge.DevnetCctpBridgeWrongDomain.selector, 9));
        bridge.receiveMessage(elsewhere, _attest(ATTESTER_KEY, elsewhere));
        assertEq(usdc.balanceOf(address(seat)), 0);
    }

    function test_aMessageOfAnotherLayoutOrForAnotherCallerPaysNothing() public {
        vm.prank(keeper);
        trading.depositMargin(SEAT, 40_000e6);
        bytes memory legacy = abi.encode(uint64(1), NOBLE, ETHEREUM, address(seat), uint256(15_000e6));
        vm.expectRevert(
            abi.encodeWithSelector(DevnetCctpBridge.DevnetCctpBridgeMalformedMessage.selector, 160)
        );
        bridge.receiveMessage(legacy, _attest(ATTESTER_KEY, legacy));
        bytes memory reserved = _messageFor(2, ETHEREUM, address(seat), 15_000e6, keeper);
        vm.expectRevert(abi.encodeWithSelector(DevnetCctpBridge.DevnetCctpBridgeWrongCaller.selector, keeper));
        bridge.receiveMessage(reserved, _attest(ATTESTER_KEY, reserved));
        vm.prank(keeper);
        bridge.receiveMessage(reserved, _attest(ATTESTER_KEY, reserved));
        assertEq(usdc.balanceOf(address(seat)), 15_000e6, "its caller submits it");
    }

    function test_onlyTheBridgedTokenCrosses() public {
        vm.expectRevert(
            abi.encodeWithSelector(DevnetCctpBridge.DevnetCctpBridgeUnsupportedToken.selector, address(weth))
        );
        bridge.depositForBurn(1, NOBLE, DYDX_ADDRESS, address(weth));
        vm.expectRevert(DevnetCctpBridge.DevnetCctpBridgeInvalidTransfer.selector);
        bridge.depositForBurn(1, NOBLE, bytes32(0), address(usdc));
    }
}
