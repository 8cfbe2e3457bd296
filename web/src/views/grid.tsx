// The portfolio rule's scenario grid for the sub-account, as `primevault risk explain` shows it: the server computes
// it with the keeper's engine and the parameters set on chain (`/api/portfolio`), so page, CLI and vault agree.
import { useEffect, useState } from "preact/hooks";
import type { AppContext } from "../app";
import { getJson } from "../config";
import { usd } from "./common";

interface GridRow {
  underlying: string;
  shock_bps: number;
  tail_bps: number;
  losses: string[]; // whole base tokens, per scenario; a gain is negative
  worst: string;
  legs: { leg: string; notional: string; loss: string }[];
  charges: string;
}

export interface RiskDocument {
  margined_by: "portfolio" | "standard";
  symbol: string;
  standard: { initial: string; maintenance: string };
  portfolio: {
    initial: string;
    maintenance: string;
    scan: string;
    charges: string;
    unmapped: Record<string, string>; // by symbol: collateral the rule does not map yet, counted for nothing
    scenarios: string[];
    grid: GridRow[];
    groups: { group: number; independent: string; credit: string; scan: string }[];
  };
}

// The document's amounts are decimal strings of whole tokens: shown to the cent as the rest of the page shows them.
function figure(text: string): string {
  return usd(Number(text));
}

function tokens(text: string, symbol: string): string {
  return `${figure(text)} ${symbol}`;
}

export function ScenarioGrid({ ctx }: { ctx: AppContext }) {
  const account = ctx.portfolio?.account;
  const [risk, setRisk] = useState<RiskDocument | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  // Re-read on every new block and action, as the other views; an answer for another account, or one overtaken by a
  // later read, is dropped.
  useEffect(() => {
    if (!account) return;
    let current = true;
    getJson<RiskDocument>(`/api/portfolio?account=${account}`)
      .then((document) => {
        if (!current) return;
        setRisk(document);
        setProblem(null);
      })
      .catch((error: Error) => current && setProblem(error.message));
    return () => {
      current = false;
    };
  }, [account, ctx.tick]);
  if (problem) return <p class="hint">The scenario grid could not be read: {problem}</p>;
  if (!risk) return <p class="hint">Reading the scenario grid…</p>;
  const { portfolio: p, symbol } = risk;
  const unmapped = Object.entries(p.unmapped);
  const cell = (value: string, worst: boolean) => (
    <td class={`num ${Number(value) > 0 ? "loss" : "gain"}${worst ? " worst" : ""}`}>{figure(value)}</td>
  );
  return (
    <div data-testid="scenario-grid">
      <p class="note">
        Portfolio rule: maintenance {tokens(p.maintenance, symbol)} (initial {tokens(p.initial, symbol)} = worst
        scenarios {tokens(p.scan, symbol)} + charges {tokens(p.charges, symbol)}
        {unmapped.map(([asset, value]) => ` + ${asset} not in the rule yet ${tokens(value, symbol)}`).join("")}); the
        standard rule needs{" "}
        {tokens(risk.standard.maintenance, symbol)}. Each underlying moves by its shock S in steps of a third and by
        its tail T; the worst scenario is marked.
      </p>
      {p.grid.length === 0 ? (
        <p class="hint">Nothing held: no scenario loses anything.</p>
      ) : (
        <div class="scroll">
          <table data-testid="grid">
            <thead>
              <tr>
                <th>Loss in {symbol} if (S / T)</th>
                {p.scenarios.map((s) => (
                  <th key={s}>{s}</th>
                ))}
                <th>Charges</th>
              </tr>
            </thead>
            <tbody>
              {p.grid.map((row) => (
                <tr key={row.underlying}>
                  <td>
                    {row.underlying} ({row.shock_bps / 100}% / {row.tail_bps / 100}%)
                  </td>
                  {row.losses.map((loss, i) => cell(loss, p.scenarios[i] === row.worst))}
                  <td class="num">{figure(row.charges)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {p.grid.map((row) => (
            <p class="note" key={row.underlying}>
              {row.underlying} at its worst ({row.worst}):{" "}
              {row.legs.map((leg) => `${leg.leg} loses ${tokens(leg.loss, symbol)}`).join("; ")}.
            </p>
          ))}
          {p.groups
            .filter((g) => Number(g.credit) > 0)
            .map((g) => (
              <p class="note" key={g.group}>
                Correlated underlyings (group {g.group}): {tokens(g.independent, symbol)} moved alone, a credit of{" "}
                {tokens(g.credit, symbol)} for moving together.
              </p>
            ))}
        </div>
      )}
    </div>
  );
}
