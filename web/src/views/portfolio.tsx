import type { AppContext } from "../app";
import type { LiquidationPrice } from "../reads";
import { formatAmount, formatMoney, formatPrice } from "../units";
import { HealthFigures, money, owed, price, Reason } from "./common";
import { ScenarioGrid } from "./grid";

function liquidation(at: LiquidationPrice): string {
  return at === null ? "none" : at === "now" ? "liquidatable now" : price(at);
}

export function PortfolioView({ ctx }: { ctx: AppContext }) {
  const { config, portfolio, abis } = ctx;
  if (!portfolio) return <p class="hint">Reading the account…</p>;
  const base = config.base;
  const cancel = (id: bigint) =>
    ctx.run(`cancel order ${id}`, [
      { label: `cancel order ${id}`, address: config.trading!, abi: abis.trading, functionName: "cancelOrder", args: [id] },
    ]);
  const mode = portfolio.portfolioMode;
  const modeLabel = mode ? "leave portfolio mode" : "enter portfolio mode";
  const switchMode = () =>
    ctx.run(modeLabel, [
      { label: modeLabel, address: config.vault, abi: abis.vault, functionName: "setPortfolioMode", args: [portfolio.account, !mode] },
    ]);
  const health = portfolio.health;
  return (
    <section aria-label="Portfolio">
      {health ? (
        <HealthFigures config={config} health={health} />
      ) : (
        <>
          {/* The vault cannot value the account while a price it needs is stale or invalid; what needs no price
              (balances, debt) still shows, and deposits and repayments still go through. */}
          <p class="activity error" data-testid="health-unknown">
            Equity, requirements and health cannot be computed now: {portfolio.healthProblem}. Balances and debt need no
            price: deposits and repayments still go through.
          </p>
          <dl class="figures">
            <div>
              <dt>Debt</dt>
              <dd data-testid="debt">{owed(config, portfolio.debt)}</dd>
            </div>
          </dl>
        </>
      )}
      <p class="note" data-testid="margin-mode">
        Margined by the {mode ? "portfolio rule: one scenario grid over the whole book, so hedges net" : "standard rule: a haircut per asset and a margin per position"}.{" "}
        <button type="button" data-testid="switch-margin" disabled={ctx.locked} onClick={switchMode}>
          {mode ? "Switch to the standard rule" : "Switch to portfolio margin"}
        </button>
      </p>
      <h2>Balances</h2>
      <div class="scroll">
        <table data-testid="balances">
          <thead>
            <tr>
              <th>Asset</th>
              <th>In the vault</th>
              <th>Price</th>
              <th>Value</th>
              <th>Haircut (init / maint)</th>
              <th>Liquidation price</th>
              <th>In your wallet</th>
            </tr>
          </thead>
          <tbody>
            <tr data-asset={base.symbol}>
              <td>{base.symbol}</td>
              <td class="num" data-testid={`vault-${base.symbol}`}>
                {formatAmount(portfolio.baseBalance, base.decimals, 2, true)} {base.symbol}
                {portfolio.baseBalance < 0n ? " (debt)" : ""}
              </td>
              <td class="num">{price(1)}</td>
              <td class="num">{money(config, portfolio.baseBalance)}</td>
              <td class="num">—</td>
              <td class="num">—</td>
              <td class="num">
                {formatAmount(portfolio.wallet.get(base.symbol) ?? 0n, base.decimals, 2, true)} {base.symbol}
              </td>
            </tr>
            {portfolio.holdings.map((h) => (
              <tr key={h.token.symbol} data-asset={h.token.symbol}>
                <td>{h.token.symbol}</td>
                <td class="num" data-testid={`vault-${h.token.symbol}`}>
                  {formatAmount(h.balance, h.token.decimals)} {h.token.symbol}
                </td>
                <td class="num">{h.usable ? price(h.price) : "feed stale or invalid"}</td>
                <td class="num">{h.usable ? money(config, h.value) : "—"}</td>
                <td class="num">
                  {h.initialHaircutBps / 100}% / {h.maintenanceHaircutBps / 100}%
                </td>
                <td class="num">{h.balance === 0n || mode || !health || !h.usable ? "—" : liquidation(h.liquidationPrice)}</td>
                <td class="num">
                  {formatAmount(portfolio.wallet.get(h.token.symbol) ?? 0n, h.token.decimals)} {h.token.symbol}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p class="note">
        A liquidation price is where that price alone, every other price held, brings equity down to the maintenance
        requirement; none means no price of that asset alone can{mode ? " (under the standard rule: in portfolio mode the scenario grid below decides)" : ""}.
      </p>
      <h2>Perp positions</h2>
      {portfolio.positions.length === 0 ? (
        <p class="hint" data-testid="no-positions">
          No open positions.
        </p>
      ) : (
        <div class="scroll">
          <table data-testid="positions">
            <thead>
              <tr>
                <th>Market</th>
                <th>Venue</th>
                <th>Size</th>
                <th>Entry</th>
                <th>Mark</th>
                <th>PnL</th>
                <th>Funding owed</th>
              </tr>
            </thead>
            <tbody>
              {portfolio.positions.map((p) => (
                <tr key={`${p.market}-${p.venue}`}>
                  <td>{p.ticker}</td>
                  <td>{p.venue}</td>
                  <td class="num">{formatAmount(p.size, 18)}</td>
                  <td class="num">{formatPrice(p.entry)}</td>
                  <td class="num">{p.markUsable ? formatPrice(p.mark) : "feed stale or invalid"}</td>
                  <td class={`num ${p.pnl < 0n ? "loss" : "gain"}`}>{p.markUsable ? formatMoney(p.pnl, 18, base.symbol) : "—"}</td>
                  <td class="num">
                    {/* Straight from USD WAD to the cent, what is owed rounded up: never below what the contract books. */}
                    {!p.fundingKnown ? "venue not answering" : p.markUsable ? formatMoney(p.funding, 18, base.symbol, true) : "—"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {portfolio.liquidations.map((l) => (
            <p class="note" key={l.ticker}>
              {l.ticker} net {formatAmount(l.size, 18)}:{" "}
              {mode
                ? "in portfolio mode the scenario grid below decides"
                : !health
                  ? "its liquidation price cannot be computed while the account's health cannot"
                  : l.liquidationPrice === null
                    ? "no mark of this market alone liquidates the account"
                    : l.liquidationPrice === "now"
                      ? "the account is liquidatable now"
                      : `liquidation at a mark of ${liquidation(l.liquidationPrice)}`}
            </p>
          ))}
        </div>
      )}
      <h2>{mode ? "Scenario grid" : "Scenario grid (what portfolio mode would need)"}</h2>
      {health ? (
        <ScenarioGrid ctx={ctx} />
      ) : (
        <p class="hint">The scenario grid needs every price; it shows again once the feed updates.</p>
      )}
      <h2>Orders</h2>
      {portfolio.orders.length === 0 ? (
        <p class="hint">No orders yet.</p>
      ) : (
        <div class="scroll">
          <table data-testid="orders">
            <thead>
              <tr>
                <th>#</th>
                <th>Market</th>
                <th>Side</th>
                <th>Size</th>
                <th>Limit</th>
                <th>Status</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {portfolio.orders.map((o) => (
                <tr key={String(o.id)} data-order={String(o.id)}>
                  <td>{String(o.id)}</td>
                  <td>{o.ticker}</td>
                  <td>{o.size > 0n ? "buy" : "sell"}</td>
                  <td class="num">{formatAmount(o.size < 0n ? -o.size : o.size, 18)}</td>
                  <td class="num">{formatPrice(o.limit)}</td>
                  <td class="status" data-testid="order-status">
                    {o.status}
                    {o.averagePrice !== null && ` at ${formatPrice(o.averagePrice)}`}
                    {o.reason && <Reason label={`order ${o.id}`} data={o.reason} />}
                  </td>
                  <td>
                    {/* Named for its order: a screen reader lists buttons out of their rows. */}
                    {o.status === "open" && (
                      <button type="button" aria-label={`Cancel order ${o.id}`} disabled={ctx.locked} onClick={() => cancel(o.id)}>
                        Cancel
                      </button>
                    )}
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
