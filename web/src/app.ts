// What every view shares: the deployment, the clients, the connected wallet and sub-account, the last portfolio
// read, and the two ways the views change things (send a transaction, refresh the reads).
import type { Address, PublicClient } from "viem";
import type { Call, Progress, Wallet } from "./chain";
import type { Abis, Config } from "./config";
import type { Portfolio } from "./reads";

/** The calls of an action, or a step that works them out first (reads, a permit to sign) inside the same guard,
 * saying what it waits for (a signature in the wallet) through `progress`. */
export type Planned = Call[] | ((progress: Progress) => Promise<Call[]>);

export interface AppContext {
  config: Config;
  abis: Abis;
  client: PublicClient;
  venueNames: string[]; // the trading module's venues, in venue-id order
  wallet: Wallet | null;
  subId: number;
  account: Address | null;
  portfolio: Portfolio | null;
  /** Counts new blocks, finished actions and the node coming back: views re-read when it changes. */
  tick: number;
  /** True while an action is in flight (in any view) or the wallet is on another chain: nothing else may be sent. */
  locked: boolean;
  /** Works out and sends an action's calls in order, reporting progress; resolves to whether all confirmed (failures
   * are reported). Refused while another action is in flight, anywhere in the app. */
  run: (label: string, planned: Planned) => Promise<boolean>;
  refresh: () => void;
}

export const PERMISSIONS = { withdraw: 1n, transfer: 2n, trade: 4n } as const;
