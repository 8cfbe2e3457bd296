// Deposit, withdraw, borrow, repay, transfer, operators and session keys: each with a preview of the account's
// health after it (the contracts' own answer, simulated), its progress, and the decoded reason if it fails.
import { useEffect, useState } from "preact/hooks";
import { type Address, getAddress, parseSignature, maxUint256 } from "viem";
import { type AppContext, PERMISSIONS } from "../app";
import { type Call, describeError, HealthUnknown, type Progress, preview } from "../chain";
import type { Token } from "../config";
import { type Health, subAccount, tokenAbi } from "../reads";
import { isDecimal, parseAmount, parseSubAccount } from "../units";
import { exactMoney, HealthFigures, money, owed } from "./common";

const KINDS = ["deposit", "withdraw", "borrow", "repay", "transfer", "operator", "session key"] as const;
type Kind = (typeof KINDS)[number];
const PERMIT_TTL_SECONDS = 1800n;
// What is wrong with the action describes the field it is about (the amount, or the address when it has none, unless
// it names another): a screen reader on the field hears it.
const PROBLEM_ID = "action-problem";
type Field = "amount" | "toSub" | "operator" | "markets" | "maxOrder" | "maxTotal" | "hours" | "accepted";

/** A mistake in one field of the form other than the amount or the address. */
class FieldProblem extends Error {
  constructor(
    readonly field: Field,
    message: string,
  ) {
    super(message);
  }
}

/** `read()`, its mistake said as one of `field`. */
function inField<T>(field: Field, read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw new FieldProblem(field, (error as Error).message);
  }
}

interface Form {
  kind: Kind;
  symbol: string;
  amount: string;
  toSub: string;
  operator: string;
  permissions: Set<keyof typeof PERMISSIONS>;
  markets: Set<number>;
  maxOrder: string;
  maxTotal: string;
  hours: string;
  accepted: string;
}

interface Plan {
  calls: Call[];
  account: Address | null; // whose health it changes; null when it changes none
  token?: Token;
  amount?: bigint;
  note?: string; // what the action does where it differs from what was typed
}

/** A pasted address: spaces around it dropped. All-lowercase or all-uppercase hex carries no checksum (EIP-55), so it
 * is taken as it is; mixed case must carry the right one, or it was mistyped. */
function parseAddress(text: string, what: string): Address {
  const cleaned = text.trim();
  if (!/^0x[0-9a-fA-F]{40}$/.test(cleaned)) throw new Error(`"${text}" is not an address: paste the ${what}'s 0x… address (40 hex digits)`);
  const hex = cleaned.slice(2);
  const address = getAddress(`0x${hex.toLowerCase()}`);
  if (hex !== hex.toLowerCase() && hex !== hex.toUpperCase() && address !== cleaned) {
    throw new Error(`${cleaned} has a bad checksum (its upper and lower case do not match): copy the ${what}'s address again`);
  }
  if (BigInt(address) === 0n) throw new Error(`the zero address cannot be the ${what}: paste the ${what}'s own address`);
  return address;
}

/** What `operator` may do on `account` now (the vault's bit mask). */
async function operatorPermissions(ctx: AppContext, account: Address, operator: Address): Promise<bigint> {
  const { config, abis } = ctx;
  return (await ctx.client.readContract({ address: config.vault, abi: abis.vault, functionName: "operatorPermissions", args: [account, operator] })) as bigint;
}

function permissionNames(mask: bigint): string {
  return (Object.keys(PERMISSIONS) as (keyof typeof PERMISSIONS)[]).filter((p) => mask & PERMISSIONS[p]).join(", ") || "no permissions";
}

/** The calls an action makes and the account whose health it changes; a message for a form that is not complete.
 * A repay reads the debt from the chain each time it is planned, also at send time, inside the action's guard. */
async function plan(ctx: AppContext, form: Form): Promise<Plan> {
  const { config, abis, wallet } = ctx;
  const owner = wallet!.address;
  const account = ctx.account!;
  const vault = config.vault;
  const token = form.symbol === config.base.symbol ? config.base : config.collateral.find((t) => t.symbol === form.symbol)!;
  const approve = (t: Token, amount: bigint): Call => ({
    label: `approve ${t.symbol}`,
    address: t.address,
    abi: tokenAbi,
    functionName: "approve",
    args: [vault, amount],
  });
  const vaultCall = (label: string, functionName: string, args: readonly unknown[], symbol?: string): Call => ({
    label,
    symbol,
    address: vault,
    abi: abis.vault,
    functionName,
    args,
  });
  switch (form.kind) {
    case "deposit": {
      const amount = parseAmount(form.amount, token.decimals, token.symbol);
      return {
        calls: [approve(token, amount), vaultCall(`deposit ${token.symbol}`, "deposit", [account, token.address, amount], token.symbol)],
        account,
        token,
        amount,
      };
    }
    case "withdraw": {
      const amount = parseAmount(form.amount, token.decimals, token.symbol);
      const call = vaultCall(`withdraw ${token.symbol}`, "withdraw", [account, token.address, amount, owner], token.symbol);
      if (token.address !== config.base.address) return { calls: [call], account };
      // A base withdrawal past the account's supply borrows the rest: said before and after, as the CLI says it.
      const balance = (await ctx.client.readContract({ address: vault, abi: abis.vault, functionName: "baseBalanceOf", args: [account] })) as bigint;
      const supplied = balance > 0n ? balance : 0n;
      if (amount <= supplied) return { calls: [call], account };
      // Both exactly, as the CLI says them: one rounded down and the other up did not add up to the supply.
      const borrowed = `borrowed ${exactMoney(config, amount - supplied)} of it`;
      return {
        calls: [{ ...call, done: `withdrew ${exactMoney(config, amount)} and ${borrowed}: done` }],
        account,
        note: `This withdraws ${exactMoney(config, amount)} and ${borrowed.replace("borrowed", "borrows")}: the account has ${money(config, supplied)} supplied.`,
      };
    }
    case "borrow": {
      const base = config.base;
      const amount = parseAmount(form.amount, base.decimals, base.symbol);
      return { calls: [vaultCall("borrow", "withdraw", [account, base.address, amount, owner], base.symbol)], account };
    }
    case "repay": {
      const base = config.base;
      const all = form.amount.trim().toLowerCase() === "max";
      const typed = all ? null : parseAmount(form.amount, base.decimals, base.symbol);
      // Today's debt, not the last portfolio read's: interest accrues between the two, and the approval is sized on it.
      const read = (functionName: string, args: readonly unknown[] = []) =>
        ctx.client.readContract({ address: vault, abi: abis.vault, functionName, args }) as Promise<bigint>;
      const [balance, minBorrow, allowance] = await Promise.all([
        read("baseBalanceOf", [account]),
        read("minBorrow"),
        ctx.client.readContract({ address: base.address, abi: tokenAbi, functionName: "allowance", args: [owner, vault] }) as Promise<bigint>,
      ]);
      const debt = balance < 0n ? -balance : 0n;
      if (debt === 0n) throw new Error("the account has no debt to repay");
      // An approval the wallet already gave is not asked for again.
      const approved = (amount: bigint, call: Call): Call[] => (allowance >= amount ? [call] : [approve(base, amount), call]);
      // The vault refuses to leave less than the minimum borrow owed (BorrowTooSmall): a repayment that would is
      // taken as the whole debt, as is one that is typed as the debt shown (to the cent, with a fraction left).
      if (typed !== null && typed < debt && debt - typed >= minBorrow) {
        return { calls: approved(typed, vaultCall("repay", "repay", [account, typed], base.symbol)), account };
      }
      // The whole debt, however much more was typed: repay "all of it" (the vault takes what is owed when it is mined)
      // and approve a little more than today's debt for the interest until then, as the CLI does; never what was typed
      // above the debt, which would stay approved.
      const approval = debt + debt / 1000n + 1n;
      const why =
        typed !== null && typed < debt
          ? `your whole debt: what would be left is below the minimum borrow of ${money(config, minBorrow)}`
          : "your debt (all of it, with the interest until it is mined)";
      return {
        calls: approved(approval, vaultCall("repay", "repay", [account, maxUint256], base.symbol)),
        account,
        // The approval rounded up: "at most" is never below what the wallet is asked to approve.
        note: `This repays ${owed(config, debt)}, ${why}; ${money(config, approval, true)} at most is approved.`,
      };
    }
    case "transfer": {
      const amount = parseAmount(form.amount, token.decimals, token.symbol);
      const to = inField("toSub", () => parseSubAccount(form.toSub));
      if (to === ctx.subId) throw new FieldProblem("toSub", "choose another sub-account to transfer to");
      return {
        calls: [vaultCall(`transfer ${token.symbol}`, "transfer", [account, subAccount(owner, to), token.address, amount], token.symbol)],
        account,
      };
    }
    case "operator": {
      const operator = parseAddress(form.operator, "operator");
      if (operator === owner || operator === account) {
        throw new Error("that is your own address: an operator is another address you let act for this sub-account");
      }
      const mask = [...form.permissions].reduce((m, p) => m | PERMISSIONS[p], 0n);
      // A setting already in place is refused, as the CLI refuses it: a transaction that changes nothing costs gas.
      const held = await operatorPermissions(ctx, account, operator);
      if (held === mask) {
        if (mask === 0n) throw new Error(`${operator} holds no permissions on ${account}: nothing to revoke`);
        throw new Error(`${operator} holds exactly these permissions on ${account} already (${permissionNames(mask)}): nothing to change`);
      }
      const label = mask === 0n ? "revoke operator" : "set operator";
      return { calls: [vaultCall(label, "setOperator", [account, operator, mask])], account: null };
    }
    case "session key": {
      if (!config.sessions) throw new Error("this deployment has no session keys contract");
      const key = parseAddress(form.operator, "session key");
      if (key === owner || key === account) throw new Error("that is your own address: a session key is another key, your bot's");
      if (form.markets.size === 0) throw new FieldProblem("markets", "choose at least one market the key may trade");
      const perOrder = inField("maxOrder", () => parseAmount(form.maxOrder, 18, "USD"));
      const total = inField("maxTotal", () => parseAmount(form.maxTotal, 18, "USD"));
      if (perOrder > total) throw new FieldProblem("maxOrder", "the cap per order cannot be above the total cap");
      const accepted = form.accepted.trim() as `0x${string}`;
      // 65 bytes from `session accept`; a contract key's (ERC-1271) may be longer, a Safe's one per owner.
      if (!/^0x([0-9a-fA-F]{2})+$/.test(accepted)) {
        throw new FieldProblem("accepted", `paste the key's acceptance of you: the 0x… signature \`primevault session accept ${owner}\` prints, run as the key`);
      }
      const bytes = (accepted.length - 2) / 2;
      // A key without code signs with its private key: 65 bytes, or it is no acceptance at all (the contract would
      // say only that the key has not accepted), as the CLI refuses it.
      if (bytes !== 65 && !(await ctx.client.getCode({ address: key }))) {
        throw new FieldProblem("accepted", `the acceptance "${accepted}" is ${bytes} bytes, not the 65 of a signature by ${key}: paste the 0x… line \`primevault session accept ${owner}\` printed for the key`);
      }
      // The same strict reading as amounts: Number() takes "1e3" as a thousand and "0x10" as sixteen.
      if (!isDecimal(form.hours)) throw new FieldProblem("hours", `"${form.hours}" is not a number of hours: write e.g. 24`);
      const hours = Number(form.hours.trim());
      if (!(hours * 3600 >= 60 && hours <= 24 * 365)) throw new FieldProblem("hours", `${form.hours.trim()} hours is not between a minute and a year`);
      // From the chain's clock, as an order's deadline: the computer's clock may be off, and a devnet's moves by jumps.
      const { timestamp } = await ctx.client.getBlock();
      const expiry = timestamp + BigInt(Math.floor(hours * 3600));
      const markets = [...form.markets].reduce((m, id) => m | (1n << BigInt(id)), 0n);
      const scope = { subAccounts: 1n << BigInt(ctx.subId), markets, maxNotionalPerOrder: perOrder, maxNotionalTotal: total, expiry };
      // The session contract trades for the sub-account as an operator with the trade permission (any other
      // permission it holds is kept); a setting already in place is not sent again.
      const held = await operatorPermissions(ctx, account, config.sessions);
      const grant: Call = { label: "grant session", address: config.sessions, abi: abis.sessions, functionName: "grant", args: [key, scope, accepted] };
      return {
        calls:
          held & PERMISSIONS.trade
            ? [grant]
            : [vaultCall("let the session contract trade", "setOperator", [account, config.sessions, held | PERMISSIONS.trade]), grant],
        account: null,
      };
    }
  }
}

/** The action's name in progress and in errors, before it is planned: its last call's label. */
function actionLabel(form: Form): string {
  switch (form.kind) {
    case "deposit":
    case "withdraw":
    case "transfer":
      return `${form.kind} ${form.symbol}`;
    case "operator":
      return form.permissions.size === 0 ? "revoke operator" : "set operator";
    case "session key":
      return "grant session";
    default:
      return form.kind;
  }
}

/** Why an action cannot be planned: the form's own sentence as it is, anything else (a node that does not answer,
 * a revert) as every failure is said. */
async function problemOf(kind: Kind, error: unknown): Promise<string> {
  return error instanceof Error && !("shortMessage" in error) ? error.message : describeError(kind, error);
}

/** What the preview shows: the health after the action, or why it cannot be shown or the action would fail. */
interface Preview {
  health?: Health;
  healthUnknown?: string; // the action would go through; the health after it cannot be computed, and why
  problem?: string; // why the action would fail, or what is wrong with the form
  field?: Field; // the field the problem is about
  note?: string;
}

export function ActionsView({ ctx }: { ctx: AppContext }) {
  const { config } = ctx;
  const [form, setForm] = useState<Form>({
    kind: "deposit",
    symbol: config.collateral[0]?.symbol ?? config.base.symbol,
    amount: "",
    toSub: "1",
    operator: "",
    permissions: new Set(["trade"]),
    markets: new Set([0]),
    maxOrder: "10000",
    maxTotal: "25000",
    hours: "24",
    accepted: "",
  });
  const [shown, setShown] = useState<Preview>({});
  const update = (patch: Partial<Form>) => setForm((f) => ({ ...f, ...patch }));
  const tokens = [config.base, ...config.collateral];
  const needsAsset = ["deposit", "withdraw", "transfer"].includes(form.kind);
  const needsAddress = form.kind === "operator" || form.kind === "session key";
  const needsAmount = ["deposit", "withdraw", "borrow", "repay", "transfer"].includes(form.kind);
  const about = (field: Field) => {
    const invalid = shown.problem !== undefined && shown.field === field;
    return { "aria-invalid": invalid, "aria-describedby": invalid ? PROBLEM_ID : undefined };
  };

  // The preview follows the form and the chain (every new read of the account): what the account's health would be
  // after the action, or why it would fail. The last preview stays on screen until the next one replaces it.
  useEffect(() => {
    // An empty field not yet typed in is not an error: nothing is said until something is typed.
    if ((needsAmount && !form.amount.trim()) || (needsAddress && !form.operator.trim())) {
      setShown({});
      return;
    }
    let current = true;
    const timer = setTimeout(async () => {
      let planned: Plan | null = null;
      try {
        planned = await plan(ctx, form);
        const { calls, account, note } = planned;
        if (!account) {
          if (current) setShown({ note });
          return;
        }
        const health = await preview<Health>(ctx.client, ctx.wallet!.address, calls, {
          address: config.vault,
          abi: ctx.abis.vault,
          functionName: "accountHealth",
          args: [account],
        });
        if (current) setShown({ health, note });
      } catch (error) {
        const next: Preview =
          error instanceof HealthUnknown
            ? { healthUnknown: error.message, note: planned?.note }
            : {
                problem: await problemOf(form.kind, error),
                field: error instanceof FieldProblem ? error.field : needsAmount ? "amount" : "operator",
                note: planned?.note, // what it was taken as stays said
              };
        if (current) setShown(next);
      }
    }, 250);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [form, ctx.subId, ctx.portfolio]);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (ctx.locked) return; // the button is disabled; Enter in a field is refused the same
    // Every action is planned inside the app's one-action guard, as it is sent: planning reads the chain (a
    // repayment's debt, a base withdrawal's supply, an operator's permissions), and a read made before the guard let
    // an outage, or a switch of sub-account, pass unseen while it hung, the action then sent on its own once the node
    // answered. A deposit's permit is read and signed there too. What is wrong with the form the preview says already.
    const planned = async (progress: Progress): Promise<Call[]> => {
      const { calls, token, amount } = await plan(ctx, form);
      return form.kind === "deposit" ? depositCalls(ctx, calls, token!, amount!, progress) : calls;
    };
    if (await ctx.run(actionLabel(form), planned)) update({ amount: "" });
  };

  return (
    <section aria-label="Actions">
      <form onSubmit={submit} class="action-form">
        <fieldset class="kinds">
          <legend>Action</legend>
          {KINDS.map((k) => (
            <label key={k}>
              <input type="radio" name="kind" value={k} checked={form.kind === k} onChange={() => update({ kind: k })} /> {k}
            </label>
          ))}
        </fieldset>
        {needsAsset && (
          <label>
            Asset{" "}
            <select data-testid="asset" value={form.symbol} onChange={(e) => update({ symbol: (e.target as HTMLSelectElement).value })}>
              {tokens.map((t) => (
                <option key={t.symbol}>{t.symbol}</option>
              ))}
            </select>
          </label>
        )}
        {needsAmount && (
          <label>
            Amount{" "}
            <input
              data-testid="amount"
              inputMode="decimal"
              placeholder={form.kind === "repay" ? "e.g. 500 or max" : "e.g. 1.5"}
              {...about("amount")}
              value={form.amount}
              onInput={(e) => update({ amount: (e.target as HTMLInputElement).value })}
            />{" "}
            {form.kind === "borrow" || form.kind === "repay" ? config.base.symbol : form.symbol}
          </label>
        )}
        {form.kind === "transfer" && (
          <label>
            To sub-account{" "}
            <input type="number" min={0} max={255} {...about("toSub")} value={form.toSub} onInput={(e) => update({ toSub: (e.target as HTMLInputElement).value })} />
          </label>
        )}
        {(form.kind === "operator" || form.kind === "session key") && (
          <label>
            {form.kind === "operator" ? "Operator" : "Session key"} address{" "}
            <input
              data-testid="operator"
              placeholder="0x…"
              {...about("operator")}
              value={form.operator}
              onInput={(e) => update({ operator: (e.target as HTMLInputElement).value })}
            />
          </label>
        )}
        {form.kind === "operator" && (
          <Choices
            legend="Permissions (none revokes)"
            options={(Object.keys(PERMISSIONS) as (keyof typeof PERMISSIONS)[]).map((p) => [p, p])}
            chosen={form.permissions}
            onChange={(permissions) => update({ permissions })}
          />
        )}
        {form.kind === "session key" && (
          <>
            <Choices
              legend="Markets it may trade"
              options={config.markets.map((m, id) => [id, m.ticker])}
              chosen={form.markets}
              onChange={(markets) => update({ markets })}
            />
            <label>
              Most per order <input {...about("maxOrder")} value={form.maxOrder} onInput={(e) => update({ maxOrder: (e.target as HTMLInputElement).value })} /> USD
            </label>
            <label>
              Most in all <input {...about("maxTotal")} value={form.maxTotal} onInput={(e) => update({ maxTotal: (e.target as HTMLInputElement).value })} /> USD
            </label>
            <label>
              For <input {...about("hours")} value={form.hours} onInput={(e) => update({ hours: (e.target as HTMLInputElement).value })} /> hours
            </label>
            <label>
              Key's acceptance{" "}
              <input
                data-testid="accepted"
                placeholder="0x…"
                {...about("accepted")}
                value={form.accepted}
                onInput={(e) => update({ accepted: (e.target as HTMLInputElement).value })}
              />
            </label>
            <p class="note">
              The key accepts you as its owner first (it signs; nothing is sent), so no one who sees your grant can take the key:
              run <code>primevault session accept {ctx.wallet?.address}</code> as the key. It can submit orders for this sub-account
              only; it can never withdraw or transfer.
            </p>
          </>
        )}
        <button type="submit" data-testid="submit-action" disabled={ctx.locked}>
          {form.kind === "operator" ? "Set operator" : form.kind === "session key" ? "Grant session key" : `Confirm ${form.kind}`}
        </button>
      </form>
      {/* Only why the action would fail is announced: the figures change with every block. */}
      <div class="preview" data-testid="preview">
        <div aria-live="polite">
          {shown.problem && (
            <p class="activity error" id={PROBLEM_ID} data-testid="preview-error">
              {shown.problem}
            </p>
          )}
        </div>
        {shown.note && (
          <p class="note" data-testid="preview-note">
            {shown.note}
          </p>
        )}
        {!shown.problem && (
          <>
            {shown.health ? (
              <>
                <h2>After this {form.kind}</h2>
                <HealthFigures config={config} health={shown.health} />
              </>
            ) : shown.healthUnknown ? (
              <p class="hint" data-testid="preview-unknown">
                {shown.healthUnknown}
              </p>
            ) : (
              <p class="hint">{needsAmount ? "Enter an amount to see the account's health after it." : "This does not change the account's health."}</p>
            )}
          </>
        )}
      </div>
    </section>
  );
}

/** A set of checkboxes over `options` ([value, label] pairs). */
function Choices<T>({
  legend,
  options,
  chosen,
  onChange,
}: {
  legend: string;
  options: [T, string][];
  chosen: Set<T>;
  onChange: (next: Set<T>) => void;
}) {
  return (
    <fieldset>
      <legend>{legend}</legend>
      {options.map(([value, label]) => (
        <label key={label}>
          <input
            type="checkbox"
            checked={chosen.has(value)}
            onChange={(e) => {
              const next = new Set(chosen);
              if ((e.target as HTMLInputElement).checked) next.add(value);
              else next.delete(value);
              onChange(next);
            }}
          />{" "}
          {label}
        </label>
      ))}
    </fieldset>
  );
}

/** A deposit of a token with ERC-2612 is one transaction with a permit for exactly its amount; otherwise an exact
 * approval and the deposit, as the CLI does it. */
async function depositCalls(ctx: AppContext, planned: Call[], token: Token, amount: bigint, progress: Progress): Promise<Call[]> {
  const { client, wallet, config } = ctx;
  const owner = wallet!.address;
  const allowance = (await client.readContract({ address: token.address, abi: tokenAbi, functionName: "allowance", args: [owner, config.vault] })) as bigint;
  if (allowance >= amount) return planned.slice(1);
  let domain: readonly [unknown, string, string, bigint, Address, unknown, unknown];
  let nonce: bigint;
  try {
    [domain, nonce] = await Promise.all([
      client.readContract({ address: token.address, abi: tokenAbi, functionName: "eip712Domain" }),
      client.readContract({ address: token.address, abi: tokenAbi, functionName: "nonces", args: [owner] }),
    ]);
  } catch {
    return planned; // no permit: approve, then deposit
  }
  const block = await client.getBlock();
  const deadline = block.timestamp + PERMIT_TTL_SECONDS;
  const deposit = planned[1];
  // Nothing is sent yet, but the wallet is waiting on the user: said, or "preparing" would stay on screen meanwhile.
  progress(`${deposit.label}: waiting for your signature of the permit`);
  const signature = await wallet!.client.signTypedData({
    account: wallet!.account,
    domain: { name: domain[1], version: domain[2], chainId: Number(domain[3]), verifyingContract: domain[4] },
    types: {
      Permit: [
        { name: "owner", type: "address" },
        { name: "spender", type: "address" },
        { name: "value", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    },
    primaryType: "Permit",
    message: { owner, spender: config.vault, value: amount, nonce, deadline },
  });
  const { r, s, yParity } = parseSignature(signature);
  return [{ ...deposit, functionName: "depositWithPermit", args: [...deposit.args, deadline, 27 + yParity, r, s] }];
}
