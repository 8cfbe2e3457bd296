// The page's only door to the chain: a public client over the deployment's RPC URL, the user's wallet (an
// injected EIP-1193 wallet, or on a local anvil one of its dev accounts), transactions that are simulated
// before they are signed, and previews of an action's effect from the contracts themselves (eth_simulateV1).
import {
  type Abi,
  type Account,
  type Address,
  BaseError,
  type Chain,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  type EIP1193Provider,
  type Hex,
  HttpRequestError,
  http,
  type PublicClient,
  TimeoutError,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { type Config, getJson } from "./config";

export interface Wallet {
  kind: "injected" | "dev";
  address: Address;
  label: string;
  client: WalletClient;
  account: Account | Address;
  /** An injected wallet's provider, whose chainChanged and accountsChanged the page follows. */
  provider?: EIP1193Provider;
}

/** One contract call the user signs: `label` names it in progress and in errors ("withdraw WETH"). */
export interface Call {
  label: string;
  symbol?: string;
  address: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
  /** What the page says once it is confirmed, where "<label>: done" would say less than happened. */
  done?: string;
}

/** An error already put in words for the user: a revert decoded and explained as the CLI explains it. */
export class ExplainedError extends Error {}

/** A transaction that was sent but whose receipt could not be had (the node stopped answering, or it waited too
 * long): it may still be mined, so it is not reported as failed, and nothing else is sent until its outcome is known. */
export class OutcomeUnknown extends ExplainedError {
  constructor(
    readonly label: string,
    readonly hash: Hex,
  ) {
    super(`${label}: sent ${hash}; its outcome is not known yet (the node does not answer): nothing else can be sent until it is`);
  }
}

/** A preview whose calls would all go through but whose read of the account afterwards reverts (a stale or invalid
 * price): the action can be sent, its effect on the account's health cannot be shown. */
export class HealthUnknown extends ExplainedError {}

declare global {
  interface Window {
    ethereum?: EIP1193Provider;
  }
}

export function chainOf(config: Config): Chain {
  return defineChain({
    id: config.chainId,
    name: config.chainId === 31337 ? "Local devnet (anvil)" : `Chain ${config.chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [config.rpcUrl] } },
  });
}

export function publicClientOf(config: Config): PublicClient {
  return createPublicClient({ chain: chainOf(config), transport: http(config.rpcUrl), pollingInterval: 500 });
}

export function devWallet(config: Config, index: number): Wallet {
  const dev = config.devAccounts.find((a) => a.index === index);
  if (!dev) throw new ExplainedError(`dev account ${index} is not offered on this chain`);
  const account = privateKeyToAccount(dev.privateKey);
  const client = createWalletClient({ account, chain: chainOf(config), transport: http(config.rpcUrl) });
  return { kind: "dev", address: account.address, label: `dev account ${index}`, client, account };
}

/** Connects the browser's wallet and makes sure it is on the deployment's chain (asking it to switch if not). */
export async function injectedWallet(config: Config): Promise<Wallet> {
  const provider = window.ethereum;
  if (!provider) throw new ExplainedError("no browser wallet found: install MetaMask or Rabby, or use a dev account");
  const client = createWalletClient({ chain: chainOf(config), transport: custom(provider) });
  const [address] = await client.requestAddresses();
  if (!address) throw new ExplainedError("the wallet shared no account");
  const chainId = await client.getChainId();
  if (chainId !== config.chainId) {
    try {
      await client.switchChain({ id: config.chainId });
    } catch {
      throw new ExplainedError(`the wallet is on chain ${chainId}; switch it to chain ${config.chainId} and connect again`);
    }
  }
  return { kind: "injected", address, label: "browser wallet", client, account: address, provider };
}

/** The same browser wallet after it switched accounts (its accountsChanged event). */
export function injectedAccount(wallet: Wallet, address: Address): Wallet {
  return { ...wallet, address, account: address };
}

/** The revert data inside a viem error, if the failure was a contract revert. */
function revertData(error: unknown): Hex | undefined {
  if (!(error instanceof BaseError)) return undefined;
  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
  if (reverted instanceof ContractFunctionRevertedError && reverted.raw) return reverted.raw;
  const withData = error.walk((e) => typeof (e as { data?: unknown }).data === "string");
  const data = (withData as { data?: unknown } | null)?.data;
  return typeof data === "string" && data.startsWith("0x") ? (data as Hex) : undefined;
}

interface Explained {
  message: string; // the CLI's line: "<label> failed: <why> [<ErrorName>]"
  reason: string; // <why> alone
}

async function explained(label: string, data: Hex, symbol?: string): Promise<Explained | null> {
  try {
    return await getJson<Explained>("/api/explain", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ action: label, data, symbol }),
    });
  } catch {
    return null;
  }
}

/** The CLI's sentence for a revert, from the server's one explainer. */
export async function explainRevert(label: string, data: Hex, symbol?: string): Promise<string> {
  return (await explained(label, data, symbol))?.message ?? `${label} failed: the contract reverted with ${data.slice(0, 10)}`;
}

/** The CLI's sentence for a revert, or null when the server cannot say it now. */
export async function explainRevertOrNull(label: string, data: Hex): Promise<string | null> {
  return (await explained(label, data))?.message ?? null;
}

/** Why a read reverted, without an action's name: "the WETH price feed is stale; try again once it updates". */
async function explainReason(data: Hex): Promise<string> {
  return (await explained("read", data))?.reason ?? `the contract reverted with ${data.slice(0, 10)}`;
}

/** A node that did not answer (refused, timed out, or not an RPC endpoint), in one sentence; null for anything else. */
export function nodeProblem(error: unknown): string | null {
  if (!(error instanceof BaseError)) return null;
  const failed = error.walk((e) => e instanceof HttpRequestError || e instanceof TimeoutError);
  if (failed instanceof HttpRequestError && failed.status) {
    return `the node at ${failed.url} answered HTTP ${failed.status}`;
  }
  if (failed instanceof HttpRequestError || failed instanceof TimeoutError) return `the node at ${failed.url} does not answer`;
  return null;
}

/** Any failure as one sentence for the page: explained reverts, a rejected signature, a node that does not answer,
 * or the RPC's short message; never a library's multi-line dump. */
export async function describeError(label: string, error: unknown, symbol?: string): Promise<string> {
  if (error instanceof ExplainedError) return error.message;
  const data = revertData(error);
  if (data && data.length >= 10) return explainRevert(label, data, symbol);
  const down = nodeProblem(error);
  if (down) return `${label}: ${down}; try again when it is back`;
  if (error instanceof BaseError) {
    if (error.walk((e) => (e as { code?: number }).code === 4001)) return `${label}: you rejected it in the wallet`;
    return `${label} failed: ${error.shortMessage.split("\n")[0]}`;
  }
  return `${label} failed: ${(error instanceof Error ? error.message : String(error)).split("\n")[0]}`;
}

/** A read that may revert (a stale or invalid price): its value, or why it reverted. A node that does not answer
 * is still thrown, for the caller to report as such. */
export async function readOrReason<T>(read: Promise<T>): Promise<{ value: T } | { reason: string }> {
  try {
    return { value: await read };
  } catch (error) {
    const data = revertData(error);
    if (!data || data.length < 10) throw error;
    return { reason: await explainReason(data) };
  }
}

export type Progress = (text: string) => void;

/** Simulates `call`, then has the wallet sign and send it and waits for its receipt. A revert is explained before
 * anything is signed, so a failing action costs no gas. */
export async function send(
  client: PublicClient,
  wallet: Wallet,
  call: Call,
  margin: Config["gasMargin"],
  progress: Progress,
  beforeSigning: () => void = () => {}, // throws to stop it, e.g. when the node went away while it was checked
): Promise<Hex> {
  try {
    progress(`${call.label}: checking`);
    const target = { account: wallet.account, address: call.address, abi: call.abi, functionName: call.functionName, args: call.args };
    const { request } = await client.simulateContract(target);
    const estimate = await client.estimateContractGas(target);
    const gas = (estimate * BigInt(margin.percent)) / 100n + BigInt(margin.fixed); // unused gas is not charged
    beforeSigning();
    progress(`${call.label}: waiting for your signature`);
    const hash = await wallet.client.writeContract({ ...request, gas, chain: client.chain, account: wallet.account });
    progress(`${call.label}: sent ${hash.slice(0, 10)}…, waiting for a block`);
    const receipt = await client.waitForTransactionReceipt({ hash }).catch(() => {
      throw new OutcomeUnknown(call.label, hash);
    });
    if (receipt.status !== "success") throw new ExplainedError(await whyReverted(client, wallet, call, hash, receipt.blockNumber));
    progress(`${call.label}: confirmed in block ${receipt.blockNumber}`);
    return hash;
  } catch (error) {
    if (error instanceof ExplainedError) throw error; // already said, and an OutcomeUnknown must stay one
    throw new ExplainedError(await describeError(call.label, error, call.symbol));
  }
}

/** A transaction that passed its simulation but reverted when mined (the chain moved in between, or it ran out of
 * gas): the call replayed on the state it was mined on, explained. */
async function whyReverted(client: PublicClient, wallet: Wallet, call: Call, hash: Hex, block: bigint): Promise<string> {
  const [transaction, receipt] = await Promise.all([client.getTransaction({ hash }), client.getTransactionReceipt({ hash })]);
  if (receipt.gasUsed >= transaction.gas) return `${call.label} ran out of gas in block ${block}; send it again`;
  try {
    await client.simulateContract({
      account: wallet.account,
      address: call.address,
      abi: call.abi,
      functionName: call.functionName,
      args: call.args,
      blockNumber: block - 1n,
    });
  } catch (error) {
    return describeError(call.label, error, call.symbol);
  }
  return `${call.label} reverted in block ${block}`;
}

/** Simulates `calls` in order, each on the state the ones before it leave (one eth_simulateV1, nothing signed): an
 * action of several transactions whose later one would fail is refused before its first is sent. */
export async function simulateAll(client: PublicClient, from: Address, calls: Call[]): Promise<void> {
  const { results } = await client.simulateCalls({
    account: from,
    calls: calls.map((c) => ({ to: c.address, abi: c.abi, functionName: c.functionName, args: c.args })),
  });
  await throwFirstFailure(calls, results);
}

async function throwFirstFailure(calls: Call[], results: readonly { status: string; data?: Hex }[]): Promise<void> {
  for (const [i, call] of calls.entries()) {
    const result = results[i];
    if (result.status !== "success") {
      const data = result.data;
      throw new ExplainedError(
        data && data.length >= 10 ? await explainRevert(call.label, data, call.symbol) : `${call.label} would fail`,
      );
    }
  }
}

/** What `calls` would leave behind: the result of `read` after them, in one eth_simulateV1 against the latest block,
 * with nothing signed. An action that would revert comes back as its explained error. */
export async function preview<T>(client: PublicClient, from: Address, calls: Call[], read: Omit<Call, "label">): Promise<T> {
  const { results } = await client.simulateCalls({
    account: from,
    calls: [...calls, read].map((c) => ({ to: c.address, abi: c.abi, functionName: c.functionName, args: c.args })),
  });
  await throwFirstFailure(calls, results);
  const last = results[calls.length];
  if (last.status !== "success") {
    const data = last.data;
    const why = data && data.length >= 10 ? await explainReason(data) : "the account could not be read";
    throw new HealthUnknown(`This would go through, but the account's health after it cannot be computed: ${why}`);
  }
  return last.result as T;
}
