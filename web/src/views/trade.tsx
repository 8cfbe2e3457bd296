// Every venue's all-in quote and the router's split (from the server's one implementation, as `primevault quotes`
// prints them), then the order: submitted from the wallet, executed by the keeper, tracked here until it fills.
import { useEffect, useRef, useState } from "preact/hooks";
import { parseUnits } from "viem";
import type { AppContext } from "../app";
import { type Call, ExplainedError } from "../chain";
import { getJson } from "../config";
import { formatAmount, parseAmount } from "../units";
import { price, Reason, usd } from "./common";

// A venue that cannot quote (a stale or invalid price, a market it does not list, a size off its step) is a row with
// the reason in `error`; a venue that cannot price at all is never in `routed.sizes` (the server routes without it).
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
const MAX_SLIPPAGE_BPS = 5000;
const ORDER_TTL_SECONDS = 600n;
const CENTI_BPS = 1_000_000n; // hundredths of a basis point in one
// A quote is the venues' prices of a moment: past this age, or this many new blocks (and actions), it is dropped.
const QUOTE_TTL_MS = 30_000;
const QUOTE_TICKS = 5;
const EXPIRED = "quote expired: get quotes again";
const PROBLEM_ID = "trade-problem";

/** The slippage allowance typed, in hundredths of a basis point: a plain decimal (at most two places) from 1 to 5,000
 * bps; anything else (empty, "1e3", "abc", "20000") is refused with a sentence, before anything is sent. */
function parseSlippage(text: string): bigint {
  const cleaned = text.trim();
  if (!/^\d+(\.\d{1,2})?$/.test(cleaned)) {
    throw new Error(`slippage "${text}" is not a number of basis points: write e.g. ${DEFAULT_SLIPPAGE_BPS} (1%)`);
  }
  const centi = parseUnits(cleaned, 2);
  if (centi < 100n || centi > BigInt(MAX_SLIPPAGE_BPS) * 100n) {
    throw new Error(`slippage ${cleaned} bps is not between 1 and ${MAX_SLIPPAGE_BPS.toLocaleString("en-US")} bps`);
  }
  return centi;
}

/** The worst average price accepted: the mark moved against the order by the slippage allowance. */
function limitFor(buy: boolean, markWad: bigint, centiBps: bigint): bigint {
  return buy ? (markWad * (CENTI_BPS + centiBps)) / CENTI_BPS : (markWad * (CENTI_BPS - centiBps)) / CENTI_BPS;
}

export function TradeView({ ctx }: { ctx: AppContext }) {
  const { config, abis, portfolio } = ctx;
  const [market, setMarket] = useState(0);
  const [side, setSide] = useState<"buy" | "sell">("buy");
  const [size, setSize] = useState("");
  const [slippage, setSlippage] = useState(String(DEFAULT_SLIPPAGE_BPS));
  const [quotes, setQuotes] = useState<Quotes | null>(null);
  // What is wrong, and the field it is about (marked invalid and described by it), if it is about one.
  const [problem, setProblem] = useState<{ text: string; field?: "size" | "slippage" } | null>(null);
  // A quote answers one market, side and size: any change of them drops it (and any answer still on its way), so
  // the order sent is always the one quoted.
  const asked = useRef(0);
  const quoted = useRef({ at: 0, tick: 0 }); // when the quote shown arrived
  const changed = () => {
    asked.current++;
    setQuotes(null);
    setProblem(null); // a problem of the form as it was
  };
  const expire = () => {
    changed();
    setProblem({ text: EXPIRED });
  };
  useEffect(() => {
    if (!quotes) return;
    const timer = setTimeout(expire, QUOTE_TTL_MS - (Date.now() - quoted.current.at));
    return () => clearTimeout(timer);
  }, [quotes]);
  useEffect(() => {
    if (quotes && ctx.tick - quoted.current.tick >= QUOTE_TICKS) expire();
  }, [ctx.tick]);
  const ticker = config.markets[market]?.ticker;
  if (!config.trading || !ticker) return <p class="hint">This deployment has no perp markets.</p>;

  const quote = async (e: Event) => {
    e.preventDefault();
    setProblem(null);
    changed();
    const request = asked.current;
    try {
      parseAmount(size, 18, ticker.split("-")[0]);
      const query = new URLSearchParams({ market: ticker, side, size: size.trim() });
      const answer = await getJson<Quotes>(`/api/quotes?${query}`);
      if (request === asked.current) {
        quoted.current = { at: Date.now(), tick: ctx.tick };
        setQuotes(answer);
      }
    } catch (error) {
      if (request === asked.current) setProblem({ text: error instanceof Error ? error.message : String(error), field: "size" });
    }
  };

  /** Submits one order inside the app's one-action guard, after `check` (which throws to stop it); its deadline is
   * read from the chain then. */
  const order = (id: number, signedSize: bigint, limit: bigint, reduceOnly: boolean, label: string, check = async () => {}) =>
    ctx.run(label, async (): Promise<Call[]> => {
      await check();
      const block = await ctx.client.getBlock();
      return [
        {
          label,
          address: config.trading!,
          abi: abis.trading,
          functionName: "submitOrder",
          args: [ctx.account, id, signedSize, limit, block.timestamp + ORDER_TTL_SECONDS, reduceOnly],
        },
      ];
    });

  /** The slippage allowance, or null with the reason shown. */
  const slippageOrSay = (): bigint | null => {
    try {
      return parseSlippage(slippage);
    } catch (error) {
      setProblem({ text: error instanceof Error ? error.message : String(error), field: "slippage" });
      return null;
    }
  };

  // The order is built from the quote alone (its market, side and size), never from the form; once sent, the quote
  // is dropped, so the same order is not sent twice by a second click.
  const send = async () => {
    if (!quotes) return;
    setProblem(null);
    // A background tab's timers are slowed: the quote's age is checked here too.
    if (Date.now() - quoted.current.at > QUOTE_TTL_MS) return expire();
    const centi = slippageOrSay();
    if (centi === null) return;
    const id = config.markets.findIndex((m) => m.ticker === quotes.market);
    if (id < 0) {
      setProblem({ text: `${quotes.market} is not a market of this deployment: get quotes again` });
      return;
    }
    let amount: bigint, markWad: bigint;
    try {
      amount = parseAmount(quotes.size, 18, quotes.market);
      markWad = parseAmount(quotes.mark, 18, "USD");
    } catch {
      setProblem({ text: "the quote could not be read: get quotes again" });
      return;
    }
    // The CLI's margin check, from the server's one implementation: an order the account cannot carry would be mined and
    // then cancelled by the keeper (InsufficientEquity); it is refused here, before anything is signed. It runs inside
    // the app's one-action guard: the server reads the same node, and a check that waited on it while it hung let the
    // order go out on its own once it answered.
    const request = asked.current;
    const label = `${quotes.side} ${quotes.size} ${quotes.market}`;
    const check = async () => {
      try {
        const query = new URLSearchParams({ account: ctx.account!, market: quotes.market, side: quotes.side, size: quotes.size });
        await getJson<{ ok: boolean }>(`/api/order-check?${query}`);
      } catch (error) {
        const text = error instanceof Error ? error.message : String(error);
        if (request === asked.current) setProblem({ text, field: "size" });
        throw new ExplainedError(text);
      }
      // The form changed meanwhile: the quote shown is no longer this one.
      if (request !== asked.current) throw new ExplainedError(`${label}: the order was changed while it was checked; nothing was sent`);
    };
    const buy = quotes.side === "buy";
    if (await order(id, buy ? amount : -amount, limitFor(buy, markWad, centi), false, label, check)) changed();
  };

  // Net size per market held in this sub-account, to close with one reduce-only order each.
  const held = new Map<number, bigint>();
  for (const p of portfolio?.positions ?? []) held.set(p.market, (held.get(p.market) ?? 0n) + p.size);
  const close = async (id: number, size: bigint) => {
    setProblem(null);
    const position = portfolio!.positions.find((p) => p.market === id)!;
    // The position shows until the keeper executes its close: a second close would only be cancelled, its gas spent.
    const waiting = portfolio!.orders.find((o) => o.reduceOnly && o.ticker === position.ticker && (o.status === "open" || o.status === "routed"));
    if (waiting) {
      setProblem({ text: `order #${waiting.id} closes ${position.ticker} already: the keeper executes it (cancel it on the Portfolio page to send another)` });
      return;
    }
    if (!position.markUsable) {
      setProblem({ text: `the ${position.ticker} mark cannot be read (its price feed is stale or invalid): close it once the feed updates` });
      return;
    }
    const centi = slippageOrSay();
    if (centi === null) return;
    await order(id, -size, limitFor(size < 0n, position.mark, centi), true, `close ${position.ticker}`);
  };
  const about = (field: "size" | "slippage") => {
    const invalid = problem?.field === field;
    return { "aria-invalid": invalid, "aria-describedby": invalid ? PROBLEM_ID : undefined };
  };
  const pending = portfolio?.orders.filter((o) => o.status === "open" || o.status === "routed") ?? [];
  const latest = portfolio?.orders[0];

  return (
    <section aria-label="Trade">
      <form onSubmit={quote} class="action-form">
        <label>
          Market{" "}
          <select data-testid="market" value={market} onChange={(e) => (setMarket(Number((e.target as HTMLSelectElement).value)), changed())}>
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
              <input type="radio" name="side" value={s} checked={side === s} onChange={() => (setSide(s), changed())} /> {s}
            </label>
          ))}
        </fieldset>
        <label>
          Size{" "}
          <input
            data-testid="trade-size"
            inputMode="decimal"
            placeholder="e.g. 0.5"
            {...about("size")}
            value={size}
            onInput={(e) => (setSize((e.target as HTMLInputElement).value), changed())}
          />{" "}
          {ticker.split("-")[0]}
        </label>
        <label>
          Slippage{" "}
          <input
            data-testid="slippage"
            {...about("slippage")}
            value={slippage}
            onInput={(e) => (setSlippage((e.target as HTMLInputElement).value), problem?.field === "slippage" && setProblem(null))}
            size={5}
          />{" "}
          bps
        </label>
        <button type="submit" data-testid="get-quotes">
          Get quotes
        </button>
      </form>
      {problem && (
        <p class="activity error" role="alert" id={PROBLEM_ID}>
          {problem.text}
        </p>
      )}
      {quotes && (
        <div data-testid="quotes">
          <h2>
            {quotes.side} {quotes.size} {quotes.market} at mark {price(Number(quotes.mark))}
          </h2>
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th>Venue</th>
                  <th>Average price (USD)</th>
                  <th>Fee (USD)</th>
                  <th>Funding, 8h (USD)</th>
                  <th>All-in cost (USD)</th>
                  <th>bps</th>
                </tr>
              </thead>
              <tbody>
                {quotes.venues.map((q) =>
                  q.error ? (
                    <tr key={q.venue} data-testid={`quote-error-${q.venue}`}>
                      <td>{q.venue}</td>
                      <td colSpan={5} class="loss">
                        {q.error}
                      </td>
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
          <button type="button" data-testid="send-order" disabled={ctx.locked} onClick={send}>
            Send: {quotes.side} {quotes.size} {quotes.market}
          </button>
        </div>
      )}
      {[...held].map(([id, size]) => (
        <p key={id}>
          You hold {formatAmount(size, 18)} {config.markets[id].ticker} in this sub-account.{" "}
          <button type="button" data-testid={`close-${config.markets[id].ticker}`} disabled={ctx.locked} onClick={() => close(id, size)}>
            Close {config.markets[id].ticker}
          </button>
        </p>
      ))}
      {latest && (
        <p data-testid="latest-order" class="note">
          Order #{String(latest.id)} {latest.ticker}: {latest.status}
          {latest.reason && <Reason label={`order ${latest.id}`} data={latest.reason} />}
          {pending.length > 0 ? " — the keeper executes it with the router's split" : ""}
        </p>
      )}
    </section>
  );
}
