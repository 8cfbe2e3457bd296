// The protocol as a whole: lending market, collateral and its haircuts, bad debt, venue margin and reconciliation,
// and the accounts closest to liquidation. Reads only; no wallet needed.
import { useEffect, useState } from "preact/hooks";
import { type Address, parseAbi, parseAbiItem } from "viem";
import type { AppContext } from "../app";
import { accountHealth, adapterAbi, type Health, riskState } from "../reads";
import { formatAmount, WAD } from "../units";
import { HealthGauge, healthRatio, money } from "./common";

const SECONDS_PER_YEAR = 31_536_000n;
const ACCOUNTS_SHOWN = 10;
const ACCOUNTS_READ = 200; // the first accounts of the vault's list; the keeper reads them all
const positionAbi = parseAbi(["function position(uint8 market) view returns (int256)"]);
const haircutsUpdated = parseAbiItem("event HaircutsUpdated(address indexed asset, uint16 initialHaircutBps, uint16 maintenanceHaircutBps)");
const badDebt = parseAbiItem("event BadDebt(address indexed account, uint256 amount, uint256 newSupplyIndex)");

interface ProtocolState {
  market: { totalSupply: bigint; totalBorrow: bigint; utilizationWad: bigint; supplyRatePerSecond: bigint; borrowRatePerSecond: bigint; reserves: bigint };
  collateral: { symbol: string; decimals: number; supplied: bigint; cap: bigint; reserves: bigint; initial: number; maintenance: number; usable: boolean }[];
  haircutChanges: { symbol: string; block: bigint; initial: number; maintenance: number }[];
  badDebt: bigint;
  venues: { name: string; net: bigint; initial: bigint; maintenance: bigint; pending: bigint; positions: { ticker: string; venue: bigint; book: bigint }[] }[];
  risky: { account: Address; health: Health }[];
  accountCount: bigint;
}

async function loadProtocol(ctx: AppContext): Promise<ProtocolState> {
  const { client, config, abis } = ctx;
  const vault = (functionName: string, args: readonly unknown[] = []) => client.readContract({ address: config.vault, abi: abis.vault, functionName, args });
  const fromBlock = BigInt(config.block);
  const adapters = config.trading ? ((await client.readContract({ address: config.trading, abi: abis.trading, functionName: "venues" })) as Address[]) : [];
  const [market, state, totals, reserves, changes, debts, venues, risky, accountCount] = await Promise.all([
    vault("marketState") as Promise<ProtocolState["market"]>,
    riskState(client, config, abis),
    Promise.all(config.collateral.map((t) => vault("assetTotals", [t.address]) as Promise<readonly [bigint, bigint]>)),
    Promise.all(config.collateral.map((t) => vault("collateralReserves", [t.address]) as Promise<bigint>)),
    client.getLogs({ address: config.vault, event: haircutsUpdated, fromBlock }),
    client.getLogs({ address: config.vault, event: badDebt, fromBlock }),
    Promise.all(
      adapters.map(async (adapter, venue) => {
        const [[net, initial, maintenance], pending, positions] = await Promise.all([
          client.readContract({ address: adapter, abi: adapterAbi, functionName: "margin" }),
          client.readContract({ address: adapter, abi: adapterAbi, functionName: "pendingWithdrawals" }),
          Promise.all(
            config.markets.map(async (m, id) => ({
              ticker: m.ticker,
              venue: await client.readContract({ address: adapter, abi: positionAbi, functionName: "position", args: [id] }),
              book: (await client.readContract({ address: config.trading!, abi: abis.trading, functionName: "netPosition", args: [id, venue] })) as bigint,
            })),
          ),
        ]);
        return { name: ctx.venueNames[venue] ?? adapter, net, initial, maintenance, pending, positions };
      }),
    ),
    riskiest(ctx),
    vault("accountCount") as Promise<bigint>,
  ]);
  const symbolOf = (asset: Address | undefined) => config.collateral.find((t) => t.address.toLowerCase() === asset?.toLowerCase())?.symbol ?? String(asset);
  return {
    market,
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
    venues,
    risky,
    accountCount,
  };
}

/** The borrowing or trading accounts among the first ACCOUNTS_READ, lowest equity over maintenance first. */
async function riskiest(ctx: AppContext): Promise<ProtocolState["risky"]> {
  const { client, config, abis } = ctx;
  const [page] = (await client.readContract({ address: config.lens, abi: abis.lens, functionName: "accounts", args: [config.vault, 0n, BigInt(ACCOUNTS_READ)] })) as readonly [
    readonly { account: Address; baseBalance: bigint; openSlots: number }[],
    bigint,
  ];
  const exposed = page.filter((a) => a.baseBalance < 0n || a.openSlots !== 0);
  const healths = await Promise.all(exposed.map(async (a) => ({ account: a.account, health: await accountHealth(client, config, abis, a.account) })));
  return healths.sort((a, b) => (healthRatio(a.health) ?? Infinity) - (healthRatio(b.health) ?? Infinity)).slice(0, ACCOUNTS_SHOWN);
}

function percent(perSecond: bigint): string {
  return `${(Number(perSecond * SECONDS_PER_YEAR) / 1e16).toFixed(2)}%`;
}

export function ProtocolView({ ctx }: { ctx: AppContext }) {
  const { config } = ctx;
  const [state, setState] = useState<ProtocolState | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    loadProtocol(ctx)
      .then((s) => (setState(s), setProblem(null)))
      .catch((e) => setProblem(`cannot read the protocol: ${e instanceof Error ? e.message.split("\n")[0] : e}`));
  }, [ctx.portfolio?.block]);
  if (problem) return <p class="activity error">{problem}</p>;
  if (!state) return <p class="hint">Reading the protocol…</p>;
  const m = state.market;
  return (
    <section aria-label="Protocol">
      <dl class="figures" data-testid="protocol">
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
                <td>{c.usable ? "live" : "stale or invalid"}</td>
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
                <td class="num">{money(config, v.net)}</td>
                <td class="num">
                  {money(config, v.initial)} / {money(config, v.maintenance)}
                </td>
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
      {state.risky.length === 0 ? (
        <p class="hint">No account borrows or trades.</p>
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
                  <td class="num">{money(config, r.health.equity)}</td>
                  <td class="num">{money(config, r.health.maintenanceRequirement)}</td>
                  <td>
                    <HealthGauge health={r.health} />
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
