// The ERC-4626 lender vault: one supply position in PrimeVault shared by its depositors.
import { useEffect, useState } from "preact/hooks";
import type { AppContext } from "../app";
import { tokenAbi } from "../reads";
import { formatAmount, parseAmount } from "../units";
import { money } from "./common";

const SECONDS_PER_YEAR = 31_536_000n;

interface LendState {
  shares: bigint;
  value: bigint;
  withdrawable: bigint;
  totalAssets: bigint;
  sharePrice: bigint; // base units per 10^decimals shares
  shareDecimals: number;
  shareSymbol: string;
  supplyApr: number;
}

export function LendView({ ctx }: { ctx: AppContext }) {
  const { config, abis, client, wallet } = ctx;
  const lender = config.lender;
  const [state, setState] = useState<LendState | null>(null);
  const [amount, setAmount] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const owner = wallet!.address;

  useEffect(() => {
    if (!lender) return;
    const read = (functionName: string, args: readonly unknown[] = []) =>
      client.readContract({ address: lender, abi: abis.lender, functionName, args }) as Promise<unknown>;
    (async () => {
      const [shares, totalAssets, withdrawable, shareDecimals, shareSymbol, market] = await Promise.all([
        read("balanceOf", [owner]) as Promise<bigint>,
        read("totalAssets") as Promise<bigint>,
        read("maxWithdraw", [owner]) as Promise<bigint>,
        read("decimals") as Promise<number>,
        read("symbol") as Promise<string>,
        client.readContract({ address: config.vault, abi: abis.vault, functionName: "marketState" }) as Promise<{ supplyRatePerSecond: bigint }>,
      ]);
      const [value, sharePrice] = await Promise.all([
        read("convertToAssets", [shares]) as Promise<bigint>,
        read("convertToAssets", [10n ** BigInt(shareDecimals)]) as Promise<bigint>,
      ]);
      const supplyApr = Number(market.supplyRatePerSecond * SECONDS_PER_YEAR) / 1e16;
      setState({ shares, value, withdrawable, totalAssets, sharePrice, shareDecimals, shareSymbol, supplyApr });
    })().catch((e) => setProblem(`cannot read the lender vault: ${e instanceof Error ? e.message.split("\n")[0] : e}`));
  }, [lender, owner, ctx.portfolio?.block]);

  if (!lender) return <p class="hint">This deployment has no lender vault.</p>;
  const base = config.base;

  const act = async (kind: "deposit" | "withdraw") => {
    setProblem(null);
    try {
      const all = kind === "withdraw" && amount.trim().toLowerCase() === "all";
      const assets = all ? 0n : parseAmount(amount, base.decimals, base.symbol);
      const calls =
        kind === "deposit"
          ? [
              { label: `approve ${base.symbol}`, address: base.address, abi: tokenAbi, functionName: "approve", args: [lender, assets] },
              { label: "lend deposit", address: lender, abi: abis.lender, functionName: "deposit", args: [assets, owner], symbol: base.symbol },
            ]
          : all
            ? [{ label: "lend withdraw", address: lender, abi: abis.lender, functionName: "redeem", args: [state!.shares, owner, owner] }]
            : [{ label: "lend withdraw", address: lender, abi: abis.lender, functionName: "withdraw", args: [assets, owner, owner], symbol: base.symbol }];
      if (await ctx.run(calls)) setAmount("");
    } catch (error) {
      setProblem(error instanceof Error ? error.message : String(error));
    }
  };

  return (
    <section aria-label="Lend">
      {state && (
        <dl class="figures" data-testid="lend">
          <div>
            <dt>Supply rate</dt>
            <dd>{state.supplyApr.toFixed(2)}% a year</dd>
          </div>
          <div>
            <dt>Share price</dt>
            <dd>
              {formatAmount(state.sharePrice, base.decimals, 6)} {base.symbol} per {state.shareSymbol}
            </dd>
          </div>
          <div>
            <dt>Your shares</dt>
            <dd data-testid="lend-shares">
              {formatAmount(state.shares, state.shareDecimals)} {state.shareSymbol}
            </dd>
          </div>
          <div>
            <dt>Their value</dt>
            <dd data-testid="lend-value">{money(config, state.value)}</dd>
          </div>
          <div>
            <dt>Withdrawable now</dt>
            <dd>{money(config, state.withdrawable)}</dd>
          </div>
          <div>
            <dt>Lender vault total</dt>
            <dd>{money(config, state.totalAssets)}</dd>
          </div>
        </dl>
      )}
      <form class="action-form" onSubmit={(e) => (e.preventDefault(), act("deposit"))}>
        <label>
          Amount <input data-testid="lend-amount" inputMode="decimal" placeholder="e.g. 1000 (or all to withdraw)" value={amount} onInput={(e) => setAmount((e.target as HTMLInputElement).value)} />{" "}
          {base.symbol}
        </label>
        <button type="submit" data-testid="lend-deposit">
          Deposit
        </button>
        <button type="button" data-testid="lend-withdraw" onClick={() => act("withdraw")}>
          Withdraw
        </button>
      </form>
      <p class="note">What can be withdrawn at once is bounded by the pool's idle cash; the rest is lent out until borrowers repay.</p>
      {problem && <p class="activity error">{problem}</p>}
    </section>
  );
}
