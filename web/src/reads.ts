// Everything the page shows, read from the contracts in as few calls as the views allow. Pure reads: no wallet.
import { type Address, getAddress, type Hex, parseAbi, parseAbiItem, type PublicClient } from "viem";
import { readOrReason } from "./chain";
import type { Abis, Config, Token } from "./config";
import { WAD } from "./units";

// Standard interfaces the shipped artifacts do not carry on their own: Chainlink's aggregator, the venue adapter's
// margin view, and ERC-20 with ERC-2612.
export const feedAbi = parseAbi([
  "function decimals() view returns (uint8)",
  "function latestRoundData() view returns (uint80, int256, uint256, uint256, uint80)",
]);
export const adapterAbi = parseAbi([
  "function margin() view returns (int256 netCollateral, uint256 initialMargin, uint256 maintenanceMargin)",
  "function pendingWithdrawals() view returns (uint256)",
]);
export const tokenAbi = parseAbi([
  "function balanceOf(address) view returns (uint256)",
  "function allowance(address, address) view returns (uint256)",
  "function approve(address, uint256) returns (bool)",
  "function nonces(address) view returns (uint256)",
  "function eip712Domain() view returns (bytes1, string, string, uint256, address, bytes32, uint256[])",
]);

export interface Health {
  baseBalance: bigint;
  debt: bigint;
  collateralValue: bigint;
  unrealizedPnl: bigint;
  equity: bigint;
  initialRequirement: bigint;
  maintenanceRequirement: bigint;
  liquidatable: boolean;
}

export interface RiskState {
  prices: readonly bigint[];
  usable: readonly boolean[];
  scaleExponents: readonly number[];
  initialHaircutBps: readonly number[];
  maintenanceHaircutBps: readonly number[];
  marks: readonly bigint[];
  marksUsable: readonly boolean[];
  perpInitialBps: readonly number[];
  perpMaintenanceBps: readonly number[];
  fundingIndexes: readonly bigint[];
}

/** Where a price alone takes the account to liquidation: a price in USD, "now" when it is liquidatable already,
 * or null when no price of that asset or market alone can (or health cannot be computed). */
export type LiquidationPrice = number | "now" | null;

export interface Holding {
  token: Token;
  balance: bigint;
  value: bigint; // base units, before the haircut
  price: number; // USD per token, for display
  usable: boolean; // false: its feed is stale or invalid, and price and value are not known
  initialHaircutBps: number;
  maintenanceHaircutBps: number;
  liquidationPrice: LiquidationPrice; // the price at which this asset alone takes the account to liquidation
}

export interface PerpPosition {
  market: number;
  ticker: string;
  venue: string;
  size: bigint; // base WAD, signed
  entry: bigint; // USD WAD
  mark: bigint; // 0 when the market's feed is stale or invalid
  markUsable: boolean;
  pnl: bigint; // USD WAD at the mark
  funding: bigint; // USD WAD owed (negative: received); 0 when the venue cannot report its funding index
  fundingKnown: boolean; // false where the venue cannot report its funding index (the lens's FUNDING_UNREADABLE)
}

/** `PrimeVaultLens.FUNDING_UNREADABLE`: a venue's funding index the lens could not read. */
const FUNDING_UNREADABLE = -(2n ** 255n);

export interface MarketLiquidation {
  ticker: string;
  size: bigint;
  liquidationPrice: LiquidationPrice;
}

export interface OrderView {
  id: bigint;
  ticker: string;
  size: bigint;
  limit: bigint;
  status: "open" | "routed" | "executed" | "cancelled";
  averagePrice: bigint | null;
  reason: Hex | null;
  reduceOnly: boolean;
}

export interface Portfolio {
  account: Address;
  // Null when the vault cannot compute it (a price it needs is stale or invalid), with the reason; the balances and
  // the debt below need no price and are always there.
  health: Health | null;
  healthProblem: string | null;
  baseBalance: bigint; // base units, negative for debt
  debt: bigint;
  portfolioMode: boolean; // margined by the portfolio rule's scenario grid instead of haircuts and perp margins
  holdings: Holding[];
  positions: PerpPosition[];
  liquidations: MarketLiquidation[];
  orders: OrderView[];
  wallet: Map<string, bigint>; // the owner's token balances, by symbol
  block: bigint;
}

export const VENUE_SLOTS = 4;
const STATUS = ["none", "open", "executed", "cancelled", "routed"] as const;

export function subAccount(owner: Address, subId: number): Address {
  return getAddress(`0x${(BigInt(owner) ^ BigInt(subId)).toString(16).padStart(40, "0")}`);
}

export async function riskState(client: PublicClient, config: Config, abis: Abis): Promise<RiskState> {
  return (await client.readContract({
    address: config.lens,
    abi: abis.lens,
    functionName: "riskState",
    args: [config.vault],
  })) as RiskState;
}

export async function accountHealth(client: PublicClient, config: Config, abis: Abis, account: Address): Promise<Health> {
  return (await client.readContract({
    address: config.vault,
    abi: abis.vault,
    functionName: "accountHealth",
    args: [account],
  })) as Health;
}

/** The price of asset i at which the account reaches its maintenance requirement, every other price held: equity
 * moves by balance x dp and the requirement by balance x dp x haircut, so dv = (M - E) / (1 - h). Null where no
 * price of that asset alone can liquidate it (no debt, or the asset cannot fall far enough); "now" when the account
 * is below its maintenance requirement already (the formula would give a price above today's). */
function collateralLiquidationPrice(health: Health, value: bigint, price: number, haircutBps: number): LiquidationPrice {
  if (value === 0n || (health.debt === 0n && health.unrealizedPnl === 0n)) return null;
  if (health.liquidatable) return "now";
  // A 100% haircut counts the asset for nothing: no price of it moves the account toward liquidation.
  if (haircutBps >= 10_000) return null;
  const shortfall = Number(health.maintenanceRequirement - health.equity);
  const valueChange = shortfall / (1 - haircutBps / 10_000);
  return positivePrice((price * (Number(value) + valueChange)) / Number(value));
}

/** A computed price, or null where it is not one (negative, zero, infinite or NaN from parameters out of range). */
function positivePrice(price: number): number | null {
  return Number.isFinite(price) && price > 0 ? price : null;
}

/** A market's mark as the lens reports it, with whether it can be used: a market the lens does not report (one the
 * deployment does not list) has none. */
export function markOf(state: RiskState, market: number): { mark: bigint; usable: boolean } {
  const mark = state.marks[market];
  return mark === undefined ? { mark: 0n, usable: false } : { mark, usable: state.marksUsable[market] ?? mark !== 0n };
}

/** The same for a perp market: PnL moves by size x dp and the requirement by |size| x dp x maintenance margin. */
function perpLiquidationPrice(health: Health, size: bigint, mark: bigint, marginBps: number, baseDecimals: number): LiquidationPrice {
  if (size === 0n || mark === 0n) return null;
  if (health.liquidatable) return "now";
  const units = Number(size) / 1e18;
  const perUsd = units - (Math.abs(units) * marginBps) / 10_000;
  if (perUsd === 0) return null;
  const shortfallUsd = Number(health.maintenanceRequirement - health.equity) / 10 ** baseDecimals;
  return positivePrice(Number(mark) / 1e18 + shortfallUsd / perUsd);
}

// `PerpMathLib`'s roundings of a WAD product, so the page shows what the contract books: PnL rounded down, funding
// the account owes rounded up and funding owed to it toward zero (BigInt division alone rounds both toward zero).
function floorWad(product: bigint): bigint {
  return product / WAD - (product % WAD < 0n ? 1n : 0n);
}

function fundingOwed(product: bigint): bigint {
  return product >= 0n ? (product + WAD - 1n) / WAD : product / WAD;
}

export async function loadPortfolio(
  client: PublicClient,
  config: Config,
  abis: Abis,
  venueNames: string[],
  owner: Address,
  subId: number,
  fromBlock: bigint,
): Promise<Portfolio> {
  const account = subAccount(owner, subId);
  const [block, healthRead, portfolioMode, state, balances, wallet, perp, orders] = await Promise.all([
    client.getBlockNumber(),
    // accountHealth reverts while a price the account needs is stale or invalid; the rest of the page still shows.
    readOrReason(accountHealth(client, config, abis, account)),
    client.readContract({ address: config.vault, abi: abis.vault, functionName: "portfolioMode", args: [account] }) as Promise<boolean>,
    riskState(client, config, abis),
    Promise.all(
      config.collateral.map(
        (t) =>
          client.readContract({
            address: config.vault,
            abi: abis.vault,
            functionName: "collateralBalanceOf",
            args: [account, t.address],
          }) as Promise<bigint>,
      ),
    ),
    Promise.all(
      [config.base, ...config.collateral].map(
        async (t) => [t.symbol, await client.readContract({ address: t.address, abi: tokenAbi, functionName: "balanceOf", args: [owner] })] as const,
      ),
    ),
    config.trading
      ? (client.readContract({ address: config.trading, abi: abis.trading, functionName: "positionsOf", args: [account] }) as Promise<
          readonly [number, readonly { size: bigint; entryPrice: bigint; fundingIndex: bigint }[]]
        >)
      : Promise.resolve([0, []] as const),
    loadOrders(client, config, abis, account, fromBlock),
  ]);

  const health = "value" in healthRead ? healthRead.value : null;
  const baseBalance = health
    ? health.baseBalance
    : ((await client.readContract({ address: config.vault, abi: abis.vault, functionName: "baseBalanceOf", args: [account] })) as bigint);

  const holdings = config.collateral.map((token, i): Holding => {
    const price = Number(state.prices[i]) / 10 ** (state.scaleExponents[i] - token.decimals + config.base.decimals);
    const value = (balances[i] * state.prices[i]) / 10n ** BigInt(state.scaleExponents[i]);
    const haircut = state.maintenanceHaircutBps[i];
    return {
      token,
      balance: balances[i],
      value,
      price,
      usable: state.usable[i],
      initialHaircutBps: state.initialHaircutBps[i],
      maintenanceHaircutBps: haircut,
      // The formula is the standard rule's (a haircut per asset); the portfolio rule's grid has no such closed form.
      liquidationPrice: portfolioMode || !health || !state.usable[i] ? null : collateralLiquidationPrice(health, value, price, haircut),
    };
  });

  const [openSlots, slots] = perp;
  const positions: PerpPosition[] = [];
  let k = 0;
  for (let slot = 0; openSlots >> slot !== 0; slot++) {
    if (((openSlots >> slot) & 1) === 0) continue;
    const held = slots[k++];
    const market = Math.floor(slot / VENUE_SLOTS);
    const venue = slot % VENUE_SLOTS;
    const { mark, usable: markUsable } = markOf(state, market);
    // A slot the lens does not report (a market the deployment does not list) has no known funding either.
    const index = state.fundingIndexes[slot];
    const fundingKnown = index !== undefined && index !== FUNDING_UNREADABLE;
    const funding = fundingKnown ? fundingOwed(held.size * (index - held.fundingIndex)) : 0n;
    positions.push({
      market,
      ticker: config.markets[market]?.ticker ?? `market ${market}`,
      venue: venueNames[venue] ?? `venue ${venue}`,
      size: held.size,
      entry: held.entryPrice,
      mark,
      markUsable,
      pnl: markUsable ? floorWad(held.size * (mark - held.entryPrice)) : 0n,
      funding,
      fundingKnown,
    });
  }
  const liquidations = config.markets.map((m, market) => {
    const size = positions.filter((p) => p.market === market).reduce((sum, p) => sum + p.size, 0n);
    return {
      ticker: m.ticker,
      size,
      liquidationPrice:
        portfolioMode || !health
          ? null
          : perpLiquidationPrice(health, size, markOf(state, market).mark, state.perpMaintenanceBps[market] ?? 0, config.base.decimals),
    };
  });
  return {
    account,
    health,
    healthProblem: "reason" in healthRead ? healthRead.reason : null,
    baseBalance,
    debt: baseBalance < 0n ? -baseBalance : 0n,
    portfolioMode,
    holdings,
    positions,
    liquidations: liquidations.filter((l) => l.size !== 0n),
    orders,
    wallet: new Map(wallet.map(([symbol, amount]) => [symbol, amount as bigint])),
    block,
  };
}

const orderSubmitted = parseAbiItem(
  "event OrderSubmitted(uint256 indexed orderId, address indexed account, uint256 indexed market, int256 size, uint256 limitPrice, uint256 deadline, bool reduceOnly)",
);
const orderExecuted = parseAbiItem(
  "event OrderExecuted(uint256 indexed orderId, address indexed account, uint256 averagePrice, uint256 fees)",
);
const orderCancelled = parseAbiItem("event OrderCancelled(uint256 indexed orderId, address indexed account, bytes reason)");

/** The account's orders, newest first, with their status and the decoded-later reason of a cancellation. */
export async function loadOrders(client: PublicClient, config: Config, abis: Abis, account: Address, fromBlock: bigint): Promise<OrderView[]> {
  if (!config.trading) return [];
  const filter = { address: config.trading, args: { account }, fromBlock } as const;
  const [submitted, executed, cancelled] = await Promise.all([
    client.getLogs({ ...filter, event: orderSubmitted }),
    client.getLogs({ ...filter, event: orderExecuted }),
    client.getLogs({ ...filter, event: orderCancelled }),
  ]);
  const prices = new Map(executed.map((log) => [log.args.orderId!, log.args.averagePrice!]));
  const reasons = new Map(cancelled.map((log) => [log.args.orderId!, log.args.reason!]));
  const statuses = await Promise.all(
    submitted.map(
      (log) =>
        client.readContract({ address: config.trading!, abi: abis.trading, functionName: "order", args: [log.args.orderId!] }) as Promise<{
          status: number;
        }>,
    ),
  );
  return submitted
    .map((log, i): OrderView => {
      const id = log.args.orderId!;
      return {
        id,
        ticker: config.markets[Number(log.args.market!)]?.ticker ?? `market ${log.args.market}`,
        size: log.args.size!,
        limit: log.args.limitPrice!,
        status: STATUS[statuses[i].status] as OrderView["status"],
        averagePrice: prices.get(id) ?? null,
        reason: reasons.get(id) ?? null,
        reduceOnly: log.args.reduceOnly!,
      };
    })
    .reverse();
}
