// What the server hands the page: the deployment (`/config.json`) and the ABIs the Python package ships
// (`/abi/NAME.json`), so the page, the CLI and the keeper read one set of addresses and artifacts.
import type { Abi, Address, Hex } from "viem";

export interface Token {
  symbol: string;
  address: Address;
  decimals: number;
  feed: Address | null;
}

export interface Config {
  chainId: number;
  rpcUrl: string;
  vault: Address;
  lens: Address;
  trading: Address | null;
  lender: Address | null;
  sessions: Address | null;
  base: Token;
  collateral: Token[];
  markets: { ticker: string; feed: Address }[];
  venues: { name: string; address: Address; adapter: Address | null }[];
  block: number; // the deployment block, where event reads start
  // Added to gas estimates, as the Python package's Sender adds it: the accrual a mined block writes and the estimate
  // (at the latest block's time) does not, and state that moves in between.
  gasMargin: { percent: number; fixed: number };
  devAccounts: { index: number; address: Address; privateKey: Hex }[];
}

export interface Abis {
  vault: Abi;
  lens: Abi;
  trading: Abi;
  lender: Abi;
  sessions: Abi;
}

/** The server's JSON answer; its `{"error": ...}` sentence as the error. A body that is not JSON (a proxy's error
 * page, a server that is not this one) or no answer at all is said in one sentence, never as a parser's message. */
export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new Error(`the page's server at ${location.origin} does not answer; try again when it is back`);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`the page's server answered ${url} with HTTP ${response.status} and no JSON; try again later`);
  }
  if (!response.ok) {
    const error = (body as { error?: unknown } | null)?.error;
    throw new Error(typeof error === "string" ? error : `the page's server answered ${url} with HTTP ${response.status}`);
  }
  return body as T;
}

export async function loadConfig(): Promise<{ config: Config; abis: Abis }> {
  const config = await getJson<Config>("/config.json");
  const [vault, lens, trading, lender, sessions] = await Promise.all(
    ["PrimeVault", "PrimeVaultLens", "TradingModule", "PrimeVaultLender", "SessionKeys"].map((name) =>
      getJson<Abi>(`/abi/${name}.json`),
    ),
  );
  return { config, abis: { vault, lens, trading, lender, sessions } };
}
