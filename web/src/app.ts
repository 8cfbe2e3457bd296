// What every view shares: the deployment, the clients, the connected wallet and sub-account, the last portfolio
// read, and the two ways the views change things (send a transaction, refresh the reads).
import type { Address, PublicClient } from "viem";
import type { Call, Wallet } from "./chain";
import type { Abis, Config } from "./config";
import type { Portfolio } from "./reads";

export interface AppContext {
  config: Config;
  abis: Abis;
  client: PublicClient;
  venueNames: string[]; // the trading module's venues, in venue-id order
  wallet: Wallet | null;
  subId: number;
  account: Address | null;
  portfolio: Portfolio | null;
  /** Sends the calls in order, reporting progress; resolves to whether all confirmed (failures are reported). */
  run: (calls: Call[]) => Promise<boolean>;
  refresh: () => void;
}

export const PERMISSIONS = { withdraw: 1n, transfer: 2n, trade: 4n } as const;
