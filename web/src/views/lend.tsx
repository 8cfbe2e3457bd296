// The ERC-4626 lender vault: one supply position in PrimeVault shared by its depositors.
import { useEffect, useState } from "preact/hooks";
import type { Address } from "viem";
import type { AppContext } from "../app";
import { type Call, describeError, readOrReason } from "../chain";
import { tokenAbi } from "../reads";
import { formatAmount, parseAmount } from "../units";
import { money, percent, yearlyPercent } from "./common";

interface LendState {
  owner: Address; // whose figures these are: another account's are never shown or acted on
  shares: bigint;
  value: bigint;
  withdrawable: bigint;
  totalAssets: bigint;
  sharePrice: bigint; // base units per 10^decimals shares
  shareDecimals: number;
  shareSymbol: string;
  supplyApr: number | null; // null while the vault cannot value its reserves (a venue refuses a stale price)
}

export function LendView({ ctx }: { ctx: AppContext }) {
  const { config, abis, client, wallet } = ctx;
  const lender = config.lender;
  const [lastRead, setLastRead] = useState<LendState | null>(null);
  const [amount, setAmount] = useState("");
  const [readProblem, setReadProblem] = useState<string | null>(null); // the last read failed; cleared by the next
  const [problem, setProblem] = useState<string | null>(null); // what is wrong with the amount asked
  const owner = wallet!.address;
  // After the wallet switches accounts, the last read is the previous account's until the next one arrives.
  const state = lastRead?.owner === owner ? lastRead : null;

  useEffect(() => {
    if (!lender) return;
    let current = true;
    const read = (functionName: string, args: readonly unknown[] = []) =>
      client.readContract({ address: lender, abi: abis.lender, functionName, args }) as Promise<unknown>;
    (async () => {
      const [shares, totalAssets, withdrawable, shareDecimals, shareSymbol, market] = await Promise.all([
        read("balanceOf", [owner]) as Promise<bigint>,
        read("totalAssets") as Promise<bigint>,
        read("maxWithdraw", [owner]) as Promise<bigint>,
        read("decimals") as Promise<number>,
        read("symbol") as Promise<string>,
        readOrReason(
          client.readContract({ address: config.vault, abi: abis.vault, functionName: "marketState" }) as Promise<{ supplyRatePerSecond: bigint }>,
        ),
      ]);
      const [value, sharePrice] = await Promise.all([
        read("convertToAssets", [shares]) as Promise<bigint>,
        read("convertToAssets", [10n ** BigInt(shareDecimals)]) as Promise<bigint>,
      ]);
      const supplyApr = "value" in market ? yearlyPercent(market.value.supplyRatePerSecond) : null;
      if (current) (setLastRead({ owner, shares, value, withdrawable, totalAssets, sharePrice, shareDecimals, shareSymbol, supplyApr }), setReadProblem(null));
    })().catch(async (e) => {
      const text = await describeError("reading the lender vault", e);
      if (current) setReadProblem(text);
    });
    return () => {
      current = false;
    };
  }, [lender, owner, ctx.tick]);

  if (!lender) return <p class="hint">This deployment has no lender vault.</p>;
  const base = config.base;

  /** The calls for what was asked, or a sentence for what cannot be done (nothing is sent then). */
  const calls = (kind: "deposit" | "withdraw"): Call[] => {
    const all = kind === "withdraw" && ["all", "max"].includes(amount.trim().toLowerCase());
    if (kind === "withdraw" && !state) throw new Error("reading the lender vault…");
    // Said before the vault's own refusal, which for a holder of nothing reads as funds lent out (as the CLI says it).
    if (kind === "withdraw" && state!.shares === 0n) throw new Error("you hold no lender shares: deposit first");
    const assets = all ? state!.value : parseAmount(amount, base.decimals, base.symbol);
    // The vault would refuse it; said here in the CLI's words, naming the limit that binds: what the holder's shares
    // are worth, or the pool's idle cash (the rest lent out).
    if (kind === "withdraw" && assets > state!.withdrawable) {
      if (state!.withdrawable >= state!.value) {
        throw new Error(
          `your lender shares are worth ${money(config, state!.value)}, less than the ${money(config, assets)} asked for: withdraw at most that (all takes every share)`,
        );
      }
      throw new Error(
        `you can withdraw ${money(config, state!.withdrawable)} now, less than the ${money(config, assets)} asked for: the rest is lent out to borrowers until they repay or more is supplied (your shares are worth ${money(config, state!.value)})`,
      );
    }
    if (kind === "deposit") {
      return [
        { label: `approve ${base.symbol}`, address: base.address, abi: tokenAbi, functionName: "approve", args: [lender, assets] },
        { label: "lend deposit", address: lender, abi: abis.lender, functionName: "deposit", args: [assets, owner], symbol: base.symbol },
      ];
    }
    return all
      ? [{ label: "lend withdraw", address: lender, abi: abis.lender, functionName: "redeem", args: [state!.shares, owner, owner] }]
      : [{ label: "lend withdraw", address: lender, abi: abis.lender, functionName: "withdraw", args: [assets, owner, owner], symbol: base.symbol }];
  };

  const act = async (kind: "deposit" | "withdraw") => {
    setProblem(null);
    let planned: Call[];
    try {
      planned = calls(kind);
    } catch (error) {
      setProblem(error instanceof Error ? error.message : String(error));
      return;
    }
    // An approval already in place is not asked for again (read as the deposit is sent, inside the one-action guard).
    const [approve, deposit] = planned;
    const sent =
      kind === "deposit"
        ? async () => {
            const allowance = (await client.readContract({ address: base.address, abi: tokenAbi, functionName: "allowance", args: [owner, lender] })) as bigint;
            return allowance >= (deposit.args[0] as bigint) ? [deposit] : [approve, deposit];
          }
        : planned;
    if (await ctx.run(`lend ${kind}`, sent)) setAmount("");
  };

  return (
    <section aria-label="Lend">
      {state && (
        <dl class="figures" data-testid="lend">
          <div>
            <dt>Supply rate</dt>
            <dd>{state.supplyApr === null ? "cannot be read now (a price feed is stale or invalid)" : `${percent(state.supplyApr)}% a year`}</dd>
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
      {/* Enter in the amount chooses nothing: depositing and withdrawing are two different buttons. */}
      <form
        class="action-form"
        onSubmit={(e) => (e.preventDefault(), setProblem("press Deposit or Withdraw: Enter alone does neither"))}
      >
        <label>
          Amount{" "}
          <input
            data-testid="lend-amount"
            inputMode="decimal"
            placeholder="e.g. 1000 (or all to withdraw)"
            aria-invalid={problem !== null}
            aria-describedby={problem ? "lend-problem" : undefined}
            value={amount}
            // The sentence was about the amount as it was: a new amount is asked again by its button.
            onInput={(e) => (setAmount((e.target as HTMLInputElement).value), setProblem(null))}
          />{" "}
          {base.symbol}
        </label>
        <button type="button" data-testid="lend-deposit" disabled={ctx.locked} onClick={() => act("deposit")}>
          Deposit
        </button>
        <button type="button" data-testid="lend-withdraw" disabled={ctx.locked} onClick={() => act("withdraw")}>
          Withdraw
        </button>
      </form>
      <p class="note">What can be withdrawn at once is bounded by the pool's idle cash; the rest is lent out until borrowers repay.</p>
      {problem && (
        <p class="activity error" role="alert" id="lend-problem" data-testid="lend-problem">
          {problem}
        </p>
      )}
      {readProblem && (
        <p class="activity error" role="alert">
          {readProblem}
        </p>
      )}
    </section>
  );
}
