// Every venue's all-in quote and the router's split (from the server's one implementation, as `primevault quotes`
// prints them), then the order: submitted from the wallet, executed by the keeper, tracked here until it fills.
import { useState } from "preact/hooks";
import type { AppContext } from "../app";
import { getJson } from "../config";
import { formatAmount, parseAmount } from "../units";
import { usd } from "./common";

interface VenueQuote {
  venue: string;
  average_price?: string;
  fee?: string;
  funding?: string;
  total_cost?: string;
  cost_bps?: string;
  error?: string;
}

interface Quotes {
  market: string;
  side: "buy" | "sell";
  size: string;
  mark: string;
  venues: VenueQuote[];
  routed: { sizes: Record<string, string>; expected_cost: string; cost_bps: string; saving_vs_best_single: string; best_single_venue: string };
}

const DEFAULT_SLIPPAGE_BPS = 100;
const ORDER_TTL_SECONDS = 600n;

export function TradeView({ ctx }: { ctx: AppContext }) {
  const { config, abis, portfolio } = ctx;
  const [market, setMarket] = useState(0);
  const [side, setSide] = useState<"buy" | "sell">("buy");
  const [size, setSize] = useState("");
  const [slippage, setSlippage] = useState(String(DEFAULT_SLIPPAGE_BPS));
  const [quotes, setQuotes] = useState<Quotes | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const ticker = config.markets[market]?.ticker;
  if (!config.trading || !ticker) return <p class="hint">This deployment has no perp markets.</p>;

  const quote = async (e: Event) => {
    e.preventDefault();
    setProblem(null);
    setQuotes(null);
    try {
      parseAmount(size, 18, ticker.split("-")[0]);
      const query = new URLSearchParams({ market: ticker, side, size: size.trim() });
      setQuotes(await getJson<Quotes>(`/api/quotes?${query}`));
    } catch (error) {
      setProblem(error instanceof Error ? error.message : String(error));
    }
  };

  const order = async (id: number, signedSize: bigint, limit: bigint, reduceOnly: boolean, label: string) => {
    setBusy(true);
    const block = await ctx.client.getBlock();
    await ctx.run([
      {
        label,
        address: config.trading!,
        abi: abis.trading,
        functionName: "submitOrder",
        args: [ctx.account, id, signedSize, limit, block.timestamp + ORDER_TTL_SECONDS, reduceOnly],
      },
    ]);
    setBusy(false);
  };

  /** The worst average price accepted: the mark moved against the order by the slippage allowance. */
  const limitFor = (buy: boolean, markWad: bigint): bigint => {
    const bps = BigInt(Math.round(Number(slippage)));
    return buy ? (markWad * (10_000n + bps)) / 10_000n : (markWad * (10_000n - bps)) / 10_000n;
  };

  const send = async () => {
    if (!quotes) return;
    const bps = Number(slippage);
    if (!(bps >= 1 && bps <= 5000)) {
      setProblem(`slippage "${slippage}" is not between 1 and 5000 bps`);
      return;
    }
    const amount = parseAmount(quotes.size, 18, ticker);
    const markWad = parseAmount(quotes.mark, 18, "USD");
    await order(market, side === "buy" ? amount : -amount, limitFor(side === "buy", markWad), false, `${side} ${quotes.size} ${ticker}`);
  };

  // Net size per market held in this sub-account, to close with one reduce-only order each.
  const held = new Map<number, bigint>();
  for (const p of portfolio?.positions ?? []) held.set(p.market, (held.get(p.market) ?? 0n) + p.size);
  const close = async (id: number, size: bigint) => {
    const mark = portfolio!.positions.find((p) => p.market === id)!.mark;
    setMarket(id);
    await order(id, -size, limitFor(size < 0n, mark), true, `close ${config.markets[id].ticker}`);
  };
  const pending = portfolio?.orders.filter((o) => o.status === "open" || o.status === "routed") ?? [];
  const latest = portfolio?.orders[0];

  return (
    <section aria-label="Trade">
      <form onSubmit={quote} class="action-form">
        <label>
          Market{" "}
          <select data-testid="market" value={market} onChange={(e) => setMarket(Number((e.target as HTMLSelectElement).value))}>
            {config.markets.map((m, id) => (
              <option value={id} key={m.ticker}>
                {m.ticker}
              </option>
            ))}
          </select>
        </label>
        <fieldset>
          <legend>Side</legend>
          {(["buy", "sell"] as const).map((s) => (
            <label key={s}>
              <input type="radio" name="side" value={s} checked={side === s} onChange={() => setSide(s)} /> {s}
            </label>
          ))}
        </fieldset>
        <label>
          Size <input data-testid="trade-size" inputMode="decimal" placeholder="e.g. 0.5" value={size} onInput={(e) => setSize((e.target as HTMLInputElement).value)} />{" "}
          {ticker.split("-")[0]}
        </label>
        <label>
          Slippage <input value={slippage} onInput={(e) => setSlippage((e.target as HTMLInputElement).value)} size={5} /> bps
        </label>
        <button type="submit" data-testid="get-quotes">
          Get quotes
        </button>
      </form>
      {problem && <p class="activity error">{problem}</p>}
      {quotes && (
        <div data-testid="quotes">
          <h2>
            {quotes.side} {quotes.size} {quotes.market} at mark {usd(Number(quotes.mark))}
          </h2>
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th>Venue</th>
                  <th>Average price</th>
                  <th>Fee</th>
                  <th>Funding (8h)</th>
                  <th>All-in cost</th>
                  <th>bps</th>
                </tr>
              </thead>
              <tbody>
                {quotes.venues.map((q) =>
                  q.error ? (
                    <tr key={q.venue}>
                      <td>{q.venue}</td>
                      <td colSpan={5}>{q.error}</td>
                    </tr>
                  ) : (
                    <tr key={q.venue}>
                      <td>{q.venue}</td>
                      <td class="num">{usd(Number(q.average_price))}</td>
                      <td class="num">{usd(Number(q.fee))}</td>
                      <td class="num">{usd(Number(q.funding))}</td>
                      <td class="num">{usd(Number(q.total_cost))}</td>
                      <td class="num">{Number(q.cost_bps).toFixed(2)}</td>
                    </tr>
                  ),
                )}
              </tbody>
            </table>
          </div>
          <p data-testid="routed">
            Routed:{" "}
            {Object.entries(quotes.routed.sizes)
              .map(([venue, part]) => `${venue} ${part}`)
              .join(", ")}
            ; all-in cost {usd(Number(quotes.routed.expected_cost))} USD ({Number(quotes.routed.cost_bps).toFixed(2)} bps), saving{" "}
            {usd(Number(quotes.routed.saving_vs_best_single))} USD against the best single venue ({quotes.routed.best_single_venue}).
          </p>
          <button type="button" data-testid="send-order" disabled={busy} onClick={send}>
            Send {quotes.side} order
          </button>
        </div>
      )}
      {[...held].map(([id, size]) => (
        <p key={id}>
          You hold {formatAmount(size, 18)} {config.markets[id].ticker} in this sub-account.{" "}
          <button type="button" data-testid={`close-${config.markets[id].ticker}`} disabled={busy} onClick={() => close(id, size)}>
            Close {config.markets[id].ticker}
          </button>
        </p>
      ))}
      {latest && (
        <p data-testid="latest-order" class="note">
          Order #{String(latest.id)} {latest.ticker}: {latest.status}
          {pending.length > 0 ? " — the keeper executes it with the router's split" : ""}
        </p>
      )}
    </section>
  );
}
