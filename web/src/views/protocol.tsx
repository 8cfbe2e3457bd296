// The protocol as a whole: lending market, collateral and its haircuts, bad debt, venue margin and reconciliation,
// and the accounts closest to liquidation. Reads only; no wallet needed.
import { useEffect, useState } from "preact/hooks";
import { type Address, parseAbi, parseAbiItem } from "viem";
import type { AppContext } from "../app";
import { describeError, readOrReason } from "../chain";
import { getJson } from "../config";
import { adapterAbi, markOf, riskState } from "../reads";
import { formatAmount, formatPrice, WAD } from "../units";
import { money, percent as percentText, RatioGauge, yearlyPercent } from "./common";

const ACCOUNTS_SHOWN = 10;
const positionAbi = parseAbi(["function position(uint8 market) view returns (int256)"]);
const haircutsUpdated = parseAbiItem("event HaircutsUpdated(address indexed asset, uint16 initialHaircutBps, uint16 maintenanceHaircutBps)");
const badDebt = parseAbiItem(
  "event BadDebt(address indexed caller, uint256 shortfall, uint256 amount, uint256 newSupplyIndex)",
);

interface Unpriced {
  account: Address;
  holds: string[];
  trades: string[];
  reason: string;
}

interface Riskiest {
  exposed: number;
  accounts: { account: Address; equity: string; maintenance: string; ratio: number }[];
  unpriced: Unpriced[];
  unpriced_count: number;
}

interface ProtocolState {
  // Null with the reason while the vault cannot value its reserves (they include every venue's account, and a venue
  // refuses to value a position on a stale or invalid price).
  market: { totalSupply: bigint; totalBorrow: bigint; utilizationWad: bigint; supplyRatePerSecond: bigint; borrowRatePerSecond: bigint; reserves: bigint } | null;
  marketProblem: string | null;
  collateral: { symbol: string; decimals: number; supplied: bigint; cap: bigint; reserves: bigint; initial: number; maintenance: number; usable: boolean }[];
  haircutChanges: { symbol: string; block: bigint; initial: number; maintenance: number }[];
  badDebt: bigint;
  markets: { ticker: string; mark: bigint; usable: boolean }[];
  venues: {
    name: string;
    // Null with the reason when the venue cannot value its margin (it refuses a stale or invalid price).
    margin: { net: bigint; initial: bigint; maintenance: bigint } | null;
    marginProblem: string | null;
    pending: bigint;
    positions: { ticker: string; venue: bigint; book: bigint }[];
  }[];
  // Null with the reason when the server's scan cannot be had: the rest of the view still shows.
  risky: { account: Address; equity: bigint; maintenance: bigint; ratio: number }[] | null;
  riskyProblem: string | null;
  // Accounts that borrow or trade but cannot be valued (a price they need is stale or invalid): never in `risky`,
  // whose figures they would falsify; the first few by debt, of `unpricedCount`.
  unpriced: Unpriced[];
  unpricedCount: number;
  exposed: number; // accounts that borrow or hold positions
  accountCount: bigint;
}

async function loadProtocol(ctx: AppContext): Promise<ProtocolState> {
  const { client, config, abis } = ctx;
  const vault = (functionName: string, args: readonly unknown[] = []) => client.readContract({ address: config.vault, abi: abis.vault, functionName, args });
  const fromBlock = BigInt(config.block);
  const adapters = config.trading ? ((await client.readContract({ address: config.trading, abi: abis.trading, functionName: "venues" })) as Address[]) : [];
  const [market, state, totals, reserves, changes, debts, venues, risky, accountCount] = await Promise.all([
    readOrReason(vault("marketState") as Promise<NonNullable<ProtocolState["market"]>>),
    riskState(client, config, abis),
    Promise.all(config.collateral.map((t) => vault("assetTotals", [t.address]) as Promise<readonly [bigint, bigint]>)),
    Promise.all(config.collateral.map((t) => vault("collateralReserves", [t.address]) as Promise<bigint>)),
    client.getLogs({ address: config.vault, event: haircutsUpdated, fromBlock }),
    client.getLogs({ address: config.vault, event: badDebt, fromBlock }),
    Promise.all(
      adapters.map(async (adapter, venue) => {
        const [margin, pending, positions] = await Promise.all([
          readOrReason(client.readContract({ address: adapter, abi: adapterAbi, functionName: "margin" })),
          client.readContract({ address: adapter, abi: adapterAbi, functionName: "pendingWithdrawals" }),
          Promise.all(
            config.markets.map(async (m, id) => ({
              ticker: m.ticker,
              venue: await client.readContract({ address: adapter, abi: positionAbi, functionName: "position", args: [id] }),
              book: (await client.readContract({ address: config.trading!, abi: abis.trading, functionName: "netPosition", args: [id, venue] })) as bigint,
            })),
          ),
        ]);
        const [net, initial, maintenance] = "value" in margin ? margin.value : [0n, 0n, 0n];
        return {
          name: ctx.venueNames[venue] ?? adapter,
          margin: "value" in margin ? { net, initial, maintenance } : null,
          marginProblem: "reason" in margin ? margin.reason : null,
          pending,
          positions,
        };
      }),
    ),
    getJson<Riskiest>(`/api/riskiest?limit=${ACCOUNTS_SHOWN}`).then(
      (value) => ({ value }),
      (error: Error) => ({ reason: error.message }),
    ),
    vault("accountCount") as Promise<bigint>,
  ]);
  const symbolOf = (asset: Address | undefined) => config.collateral.find((t) => t.address.toLowerCase() === asset?.toLowerCase())?.symbol ?? String(asset);
  return {
    market: "value" in market ? market.value : null,
    marketProblem: "reason" in market ? market.reason : null,
    collateral: config.collateral.map((t, i) => ({
      symbol: t.symbol,
      decimals: t.decimals,
      supplied: totals[i][0],
      cap: totals[i][1],
      reserves: reserves[i],
      initial: state.initialHaircutBps[i],
      maintenance: state.maintenanceHaircutBps[i],
      usable: state.usable[i],
    })),
    haircutChanges: changes
      .slice(-10)
      .reverse()
      .map((log) => ({ symbol: symbolOf(log.args.asset), block: log.blockNumber, initial: log.args.initialHaircutBps!, maintenance: log.args.maintenanceHaircutBps! })),
    badDebt: debts.reduce((sum, log) => sum + log.args.amount!, 0n),
    markets: config.markets.map((m, id) => ({ ticker: m.ticker, ...markOf(state, id) })),
    venues,
    risky: "value" in risky ? risky.value.accounts.map((r) => ({ ...r, equity: BigInt(r.equity), maintenance: BigInt(r.maintenance) })) : null,
    riskyProblem: "reason" in risky ? risky.reason : null,
    unpriced: "value" in risky ? risky.value.unpriced : [],
    unpricedCount: "value" in risky ? risky.value.unpriced_count : 0,
    exposed: "value" in risky ? risky.value.exposed : 0,
    accountCount,
  };
}

function percent(perSecond: bigint): string {
  return `${percentText(yearlyPercent(perSecond))}%`;
}

export function ProtocolView({ ctx }: { ctx: AppContext }) {
  const { config } = ctx;
  const [state, setState] = useState<ProtocolState | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  // Re-read on every new block, action and return of the node; a failed read keeps the last figures on screen, under
  // the reason, until a read succeeds again.
  useEffect(() => {
    let current = true;
    loadProtocol(ctx)
      .then((s) => current && (setState(s), setProblem(null)))
      .catch(async (e) => {
        const text = await describeError("reading the protocol", e);
        if (current) setProblem(text);
      });
    return () => {
      current = false;
    };
  }, [ctx.tick]);
  const shownProblem = problem && (
    <p class="activity error" role="alert">
      {problem}
    </p>
  );
  if (!state) return shownProblem || <p class="hint">Reading the protocol…</p>;
  const m = state.market;
  return (
    <section aria-label="Protocol">
      {shownProblem}
      <dl class="figures" data-testid="protocol">
        {m ? (
          <>
            <div>
              <dt>Supplied</dt>
              <dd>{money(config, m.totalSupply)}</dd>
            </div>
            <div>
              <dt>Borrowed</dt>
              <dd data-testid="total-borrow">{money(config, m.totalBorrow)}</dd>
            </div>
            <div>
              <dt>Utilization</dt>
              <dd>{(Number((m.utilizationWad * 10_000n) / WAD) / 100).toFixed(2)}%</dd>
            </div>
            <div>
              <dt>Supply / borrow rate</dt>
              <dd>
                {percent(m.supplyRatePerSecond)} / {percent(m.borrowRatePerSecond)} a year
              </dd>
            </div>
            <div>
              <dt>Reserves</dt>
              <dd>{money(config, m.reserves)}</dd>
            </div>
          </>
        ) : (
          <div>
            <dt>Lending market</dt>
            <dd class="loss" data-testid="market-problem">
              cannot be read now: {state.marketProblem}
            </dd>
          </div>
        )}
        <div>
          <dt>Bad debt written off</dt>
          <dd>{money(config, state.badDebt)}</dd>
        </div>
        <div>
          <dt>Accounts</dt>
          <dd>{String(state.accountCount)}</dd>
        </div>
      </dl>
      <h2>Collateral</h2>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th>Asset</th>
              <th>Deposited</th>
              <th>Cap</th>
              <th>Held from liquidations</th>
              <th>Haircut (init / maint)</th>
              <th>Oracle</th>
            </tr>
          </thead>
          <tbody>
            {state.collateral.map((c) => (
              <tr key={c.symbol}>
                <td>{c.symbol}</td>
                <td class="num">{formatAmount(c.supplied, c.decimals)}</td>
                <td class="num">{c.cap === 0n ? "none" : formatAmount(c.cap, c.decimals)}</td>
                <td class="num">{formatAmount(c.reserves, c.decimals)}</td>
                <td class="num">
                  {c.initial / 100}% / {c.maintenance / 100}%
                </td>
                <td class={c.usable ? "" : "loss"}>{c.usable ? "live" : "stale or invalid"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Perp markets</h2>
      <div class="scroll">
        <table data-testid="markets">
          <thead>
            <tr>
              <th>Market</th>
              <th>Mark</th>
              <th>Oracle</th>
            </tr>
          </thead>
          <tbody>
            {state.markets.map((k) => (
              <tr key={k.ticker}>
                <td>{k.ticker}</td>
                <td class="num">{k.usable ? formatPrice(k.mark) : "—"}</td>
                <td class={k.usable ? "" : "loss"}>{k.usable ? "live" : "stale or invalid"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h3>Recent haircut changes</h3>
      {state.haircutChanges.length === 0 ? (
        <p class="hint">None since deployment.</p>
      ) : (
        <ul>
          {state.haircutChanges.map((c) => (
            <li key={`${c.symbol}-${c.block}`}>
              block {String(c.block)}: {c.symbol} {c.initial / 100}% / {c.maintenance / 100}%
            </li>
          ))}
        </ul>
      )}
      <h2>Venues</h2>
      <div class="scroll">
        <table data-testid="venues">
          <thead>
            <tr>
              <th>Venue</th>
              <th>Margin held</th>
              <th>Initial / maintenance</th>
              <th>Withdrawing</th>
              <th>Positions (venue · book)</th>
            </tr>
          </thead>
          <tbody>
            {state.venues.map((v) => (
              <tr key={v.name}>
                <td>{v.name}</td>
                {v.margin ? (
                  <>
                    <td class="num">{money(config, v.margin.net)}</td>
                    <td class="num">
                      {money(config, v.margin.initial, true)} / {money(config, v.margin.maintenance, true)}
                    </td>
                  </>
                ) : (
                  <td colSpan={2} class="loss">
                    cannot be valued now: {v.marginProblem}
                  </td>
                )}
                <td class="num">{money(config, v.pending)}</td>
                <td>
                  {v.positions.map((p) => (
                    <div key={p.ticker} class={p.venue === p.book ? "" : "loss"}>
                      {p.ticker} {formatAmount(p.venue, 18)} · {formatAmount(p.book, 18)} {p.venue === p.book ? "reconciled" : "differs"}
                    </div>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Closest to liquidation</h2>
      {state.risky === null ? (
        <p class="activity error" data-testid="riskiest-problem">
          The keeper's scan of every account cannot be had now: {state.riskyProblem}
        </p>
      ) : (
        <p class="note">
          Of {state.exposed} accounts that borrow or hold positions, judged by the keeper's scan of every account.
        </p>
      )}
      {state.unpricedCount > 0 && (
        <>
          <p class="activity error" data-testid="unpriced-note">
            {state.unpricedCount === 1 ? "1 account that borrows or trades" : `${state.unpricedCount} accounts that borrow or trade`} cannot be
            valued now: a price {state.unpricedCount === 1 ? "it needs" : "they need"} is stale or invalid, so neither the keeper nor the vault can
            judge {state.unpricedCount === 1 ? "it" : "them"} until the feed updates
            {state.unpricedCount > state.unpriced.length ? `; the ${state.unpriced.length} with the largest debt:` : ":"}
          </p>
          <div class="scroll">
            <table data-testid="unpriced">
              <thead>
                <tr>
                  <th>Account</th>
                  <th>Why</th>
                </tr>
              </thead>
              <tbody>
                {state.unpriced.map((u) => (
                  <tr key={u.account}>
                    <td>
                      <code>{u.account}</code>
                    </td>
                    <td class="loss">{u.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      {state.risky === null ? null : state.risky.length === 0 ? (
        state.unpricedCount === 0 && <p class="hint">No account borrows or trades.</p>
      ) : (
        <div class="scroll">
          <table data-testid="riskiest">
            <thead>
              <tr>
                <th>Account</th>
                <th>Equity</th>
                <th>Maintenance</th>
                <th>Health</th>
              </tr>
            </thead>
            <tbody>
              {state.risky.map((r) => (
                <tr key={r.account}>
                  <td>
                    <code>{r.account}</code>
                  </td>
                  <td class="num">{money(config, r.equity)}</td>
                  {/* A requirement, rounded up as on the Portfolio page: never shown below what the account needs. */}
                  <td class="num">{money(config, r.maintenance, true)}</td>
                  <td>
                    <RatioGauge equity={r.equity} maintenance={r.maintenance} liquidatable={r.equity < r.maintenance} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
