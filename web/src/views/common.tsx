import { useEffect, useState } from "preact/hooks";
import type { Hex } from "viem";
import { explainRevertOrNull } from "../chain";
import type { Config } from "../config";
import type { Health } from "../reads";
import { formatAmount, formatMoney } from "../units";

const SECONDS_PER_YEAR = 31_536_000n;

/** A per-second rate (WAD) as a yearly percentage, simple interest: 3.25 for 3.25%. */
export function yearlyPercent(perSecond: bigint): number {
  return Number(perSecond * SECONDS_PER_YEAR) / 1e16;
}

/** A percentage with two decimals, or two significant digits when it is smaller (0.0011, not 0.00): a small rate
 * is not shown as none. */
export function percent(value: number): string {
  if (!Number.isFinite(value)) return "—";
  const size = Math.abs(value);
  if (size === 0 || size >= 0.01) return value.toFixed(2);
  return value.toFixed(Math.min(20, 1 - Math.floor(Math.log10(size))));
}

export function money(config: Config, amount: bigint, up = false): string {
  return formatMoney(amount, config.base.decimals, config.base.symbol, up);
}

/** An amount of the base token exactly, to the cent at least: "500.00 USDC", "500.123456 USDC". */
export function exactMoney(config: Config, amount: bigint): string {
  const [whole, fraction = ""] = formatAmount(amount, config.base.decimals, config.base.decimals).split(".");
  return `${whole}.${fraction.padEnd(2, "0")} ${config.base.symbol}`;
}

/** What is owed, rounded up to the cent as the CLI shows it: never less than the debt. */
export function owed(config: Config, amount: bigint): string {
  return money(config, amount, true);
}

export function usd(value: number | null): string {
  if (value === null) return "—";
  return value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** A price in USD with its unit: "3,012.50 USD". */
export function price(value: number): string {
  return `${usd(value)} USD`;
}

/** Equity over a positive maintenance requirement to the hundredth, exact and rounded down (toward the liquidation)
 * as the CLI's: 1.996 reads 1.99, never 2.00. */
function ratioText(equity: bigint, maintenance: bigint): string {
  const scaled = equity * 100n;
  const hundredths = scaled / maintenance - (scaled % maintenance < 0n ? 1n : 0n);
  return formatAmount(hundredths, 2, 2, true);
}

export function HealthGauge({ health, testid }: { health: Health; testid?: string }) {
  return (
    <RatioGauge equity={health.equity} maintenance={health.maintenanceRequirement} liquidatable={health.liquidatable} testid={testid} />
  );
}

/** Equity over maintenance as a meter: below 1 the account can be liquidated. */
export function RatioGauge({
  equity,
  maintenance,
  liquidatable,
  testid,
}: {
  equity: bigint;
  maintenance: bigint;
  liquidatable: boolean;
  testid?: string;
}) {
  const ratio = maintenance === 0n ? null : Number(equity) / Number(maintenance);
  const label = liquidatable ? "liquidatable" : ratio === null ? "no requirement" : `${ratioText(equity, maintenance)}× maintenance`;
  const level = liquidatable ? "danger" : ratio !== null && ratio < 1.25 ? "warning" : "ok";
  return (
    <div class={`gauge ${level}`} data-testid={testid}>
      <meter aria-label={`health: ${label}`} min={0} max={3} low={1.05} high={1.25} optimum={3} value={ratio === null ? 3 : Math.min(ratio, 3)} />
      <span>{label}</span>
    </div>
  );
}

export function HealthFigures({ config, health }: { config: Config; health: Health }) {
  return (
    <dl class="figures">
      <div>
        <dt>Equity</dt>
        <dd data-testid="equity">{money(config, health.equity)}</dd>
      </div>
      <div>
        <dt>Initial requirement</dt>
        {/* What the account needs, rounded up as the CLI shows it: never less than the contract asks. */}
        <dd data-testid="initial-requirement">{owed(config, health.initialRequirement)}</dd>
      </div>
      <div>
        <dt>Maintenance requirement</dt>
        <dd data-testid="maintenance-requirement">{owed(config, health.maintenanceRequirement)}</dd>
      </div>
      <div>
        <dt>Debt</dt>
        <dd data-testid="debt">{owed(config, health.debt)}</dd>
      </div>
      <div>
        <dt>Health</dt>
        <dd>
          <HealthGauge health={health} testid="health" />
        </dd>
      </div>
    </dl>
  );
}

const explained = new Map<string, Promise<string | null>>();

/** A cancellation or rejection reason (ABI-encoded custom error) in the CLI's words, after ": "; nothing until the
 * sentence arrives (never the raw selector), so the status reads a neutral "cancelled" meanwhile. */
export function Reason({ label, data }: { label: string; data: Hex }) {
  const [text, setText] = useState<string | null>(null);
  useEffect(() => {
    let current = true;
    setText(null);
    const key = `${label}:${data}`;
    if (!explained.has(key)) explained.set(key, explainRevertOrNull(label, data));
    explained.get(key)!.then((t) => {
      if (t === null) explained.delete(key); // the server did not answer: asked again on the next render
      else if (current) setText(t);
    });
    return () => {
      current = false;
    };
  }, [label, data]);
  return text === null ? null : (
    <>
      {": "}
      <span class="reason" data-testid="order-reason">
        {text}
      </span>
    </>
  );
}
