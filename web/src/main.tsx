import { render } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { type Address, createPublicClient, getAddress, http } from "viem";
import type { AppContext, Planned } from "./app";
import {
  chainOf,
  describeError,
  devWallet,
  ExplainedError,
  injectedAccount,
  injectedWallet,
  nodeProblem,
  OutcomeUnknown,
  publicClientOf,
  send,
  simulateAll,
  type Wallet,
} from "./chain";
import { type Abis, type Config, loadConfig } from "./config";
import { loadPortfolio, type Portfolio, subAccount } from "./reads";
import { parseSubAccount } from "./units";
import { ActionsView } from "./views/actions";
import { LendView } from "./views/lend";
import { PortfolioView } from "./views/portfolio";
import { ProtocolView } from "./views/protocol";
import { TradeView } from "./views/trade";
import "./style.css";

const TABS = ["Portfolio", "Actions", "Trade", "Lend", "Protocol"] as const;
type Tab = (typeof TABS)[number];
const POLL_MS = 1000;
const PROBE_TIMEOUT_MS = 2_000;

interface Activity {
  text: string;
  kind: "progress" | "done" | "error";
}

function App({ config, abis, venueNames }: { config: Config; abis: Abis; venueNames: string[] }) {
  const client = useMemo(() => publicClientOf(config), [config]);
  // A client of its own, without retries and with a short timeout: the shared one retries for half a minute, and a
  // node that hangs would show no banner for that long.
  const probe = useMemo(
    () => createPublicClient({ chain: chainOf(config), transport: http(config.rpcUrl, { retryCount: 0, timeout: PROBE_TIMEOUT_MS }) }),
    [config],
  );
  const [wallet, setWallet] = useState<Wallet | null>(null);
  const [walletChain, setWalletChain] = useState<number | null>(null); // an injected wallet's chain, as it reports it
  const [subId, setSubId] = useState(0);
  const [tab, setTab] = useState<Tab>("Portfolio");
  const [portfolio, setPortfolio] = useState<Portfolio | null>(null);
  const [activity, setActivity] = useState<Activity | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [nodeDown, setNodeDown] = useState<Date | null>(null); // since when the node has not answered a poll
  const [busy, setBusy] = useState(false);
  // The guard itself is a ref, not state: two clicks in one frame both see a state update that has not rendered yet.
  const inFlight = useRef(false);
  // The node's outages as the poll sees them: an action asked for while the node is away is never sent later on its
  // own (the shared client retries for half a minute), it is refused and asked for again.
  const outages = useRef(0);
  const nodeAway = useRef(false);
  const [tick, setTick] = useState(0);
  const refresh = useCallback(() => setTick((t) => t + 1), []);
  const account = wallet ? subAccount(wallet.address, subId) : null;
  const wrongChain = wallet?.kind === "injected" && walletChain !== null && walletChain !== config.chainId ? walletChain : null;

  // Re-read on every new block (and after every action, and when the node answers again after an outage), so fills
  // and liquidations show without a reload; while the node does not answer, say so instead of showing old figures
  // as if they were current.
  useEffect(() => {
    let last = -1n;
    let down = false;
    let polling = false;
    const timer = setInterval(async () => {
      if (polling) return; // a node that hangs: one poll at a time
      polling = true;
      try {
        const block = await probe.getBlockNumber({ cacheTime: 0 });
        if (block !== last || down) {
          last = block;
          refresh();
        }
        if (down) {
          down = false;
          nodeAway.current = false;
          setNodeDown(null);
        }
      } catch {
        if (!down) {
          down = true;
          outages.current++;
          nodeAway.current = true;
          setNodeDown(new Date());
        }
      } finally {
        polling = false;
      }
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [config, probe, refresh]);

  useEffect(() => {
    if (!wallet) return;
    let current = true;
    loadPortfolio(client, config, abis, venueNames, wallet.address, subId, BigInt(config.block))
      .then((p) => current && (setPortfolio(p), setLoadError(null)))
      .catch(async (e) => {
        const text = await describeError("reading the account", e);
        if (current) setLoadError(text);
      });
    return () => {
      current = false;
    };
  }, [client, config, abis, venueNames, wallet, subId, tick]);

  // A browser wallet can switch chains or accounts at any time, from its own window: follow it.
  useEffect(() => {
    const provider = wallet?.provider;
    if (!wallet || !provider || typeof provider.on !== "function") return;
    const onChain = (id: string) => setWalletChain(Number(id));
    const onAccounts = (accounts: Address[]) => {
      if (accounts.length === 0) {
        setPortfolio(null);
        setWallet(null);
        setActivity({ text: "the browser wallet disconnected: connect it again to see your account", kind: "error" });
        return;
      }
      const address = getAddress(accounts[0]);
      // The same account again (wallets re-emit it): keep what is shown, or Portfolio waits for a block to read it.
      if (address === wallet.address) return;
      setPortfolio(null); // never the previous account's figures under the new one's address
      setWallet(injectedAccount(wallet, address));
      setActivity({ text: `the browser wallet switched to ${address}: showing its account`, kind: "done" });
    };
    provider.on("chainChanged", onChain);
    provider.on("accountsChanged", onAccounts);
    return () => {
      provider.removeListener?.("chainChanged", onChain);
      provider.removeListener?.("accountsChanged", onAccounts);
    };
  }, [wallet]);

  // One action at a time in the whole app: the guard outlives the views, so switching tabs while a transaction is
  // pending cannot send a second one.
  const run = useCallback(
    async (label: string, planned: Planned) => {
      if (!wallet || inFlight.current || wrongChain !== null) return false;
      inFlight.current = true;
      setBusy(true);
      let pending: OutcomeUnknown | null = null;
      try {
        // Asked for while the node is shown away: asked once, at once (no retries); if it does not answer, refused now.
        if (nodeAway.current) await probe.getBlockNumber({ cacheTime: 0 });
        const outagesAsked = outages.current;
        const away = () => {
          if (outages.current !== outagesAsked) {
            throw new ExplainedError(`${label}: the node is not answering; nothing was sent: ask again when it is back`);
          }
        };
        setActivity({ text: `${label}: preparing`, kind: "progress" });
        const calls = typeof planned === "function" ? await planned((text) => setActivity({ text, kind: "progress" })) : planned;
        // Several transactions are simulated together first: one that would fail after an earlier one is mined (a
        // session grant the key never accepted, after the operator setting) stops them all before the first is sent.
        if (calls.length > 1) {
          setActivity({ text: `${label}: checking`, kind: "progress" });
          await simulateAll(client, wallet.address, calls);
        }
        for (const call of calls) {
          away(); // the node went away while this was prepared (or between two calls): not sent without asking again
          await send(client, wallet, call, config.gasMargin, (text) => setActivity({ text, kind: "progress" }), away);
        }
        const last = calls[calls.length - 1];
        setActivity({ text: last.done ?? `${last.label}: done`, kind: "done" });
        return true;
      } catch (error) {
        if (error instanceof OutcomeUnknown) pending = error;
        setActivity({ text: await describeError(label, error), kind: pending ? "progress" : "error" });
        return false;
      } finally {
        // A transaction sent whose outcome is not known may still be mined: the guard stays until its receipt comes.
        if (pending) void settle(pending);
        else release();
        refresh();
      }
    },
    [client, probe, config, wallet, wrongChain, refresh],
  );

  const release = () => {
    inFlight.current = false;
    setBusy(false);
  };

  /** Waits for the receipt of a transaction sent while the node stopped answering, trying again until it does, then
   * says how it went and lets the next action be sent. */
  const settle = async ({ label, hash }: OutcomeUnknown) => {
    for (;;) {
      try {
        const receipt = await client.waitForTransactionReceipt({ hash });
        const outcome = receipt.status === "success" ? "confirmed" : "reverted";
        setActivity({ text: `${label}: ${hash} ${outcome} in block ${receipt.blockNumber}`, kind: outcome === "confirmed" ? "done" : "error" });
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
    release();
    refresh();
  };

  const connect = async (how: () => Promise<Wallet> | Wallet) => {
    try {
      const next = await how();
      setPortfolio(null);
      setWallet(next);
      setWalletChain(next.kind === "injected" ? config.chainId : null); // injectedWallet switched it
      setActivity(null);
    } catch (error) {
      setActivity({ text: await describeError("connect", error), kind: "error" });
    }
  };

  const switchChain = async () => {
    if (!wallet) return;
    try {
      await wallet.client.switchChain({ id: config.chainId });
      setWalletChain(await wallet.client.getChainId());
    } catch (error) {
      setActivity({ text: await describeError(`switch the wallet to chain ${config.chainId}`, error), kind: "error" });
    }
  };

  const chooseSub = (id: number) => {
    if (id === subId) return;
    setPortfolio(null); // never another sub-account's figures under this one's address
    setSubId(id);
  };

  // ArrowLeft/ArrowRight (and Home/End) move between the tabs, as ARIA's tab pattern has it.
  const onTabKey = (e: KeyboardEvent) => {
    const moves: Record<string, (i: number) => number> = {
      ArrowRight: (i) => (i + 1) % TABS.length,
      ArrowLeft: (i) => (i - 1 + TABS.length) % TABS.length,
      Home: () => 0,
      End: () => TABS.length - 1,
    };
    const move = moves[e.key];
    if (!move) return;
    e.preventDefault();
    const focused = TABS.findIndex((t) => document.activeElement?.id === `tab-${t}`);
    const next = TABS[move(focused >= 0 ? focused : TABS.indexOf(tab))];
    setTab(next);
    document.getElementById(`tab-${next}`)?.focus();
  };

  const locked = busy || wrongChain !== null;
  const ctx: AppContext = { config, abis, client, venueNames, wallet, subId, account, portfolio, tick, locked, run, refresh };
  return (
    <>
      <header>
        <h1>PrimeVault</h1>
        <span class="chain" data-testid="chain">
          {config.chainId === 31337 ? "local devnet (anvil)" : `chain ${config.chainId}`}
        </span>
        <Connect config={config} wallet={wallet} busy={busy} connect={connect} />
      </header>
      {wallet && (
        <div class="account-bar">
          <SubAccountField subId={subId} disabled={busy} onChange={chooseSub} />
          <code data-testid="account-address">{account}</code>
        </div>
      )}
      {nodeDown && (
        <p class="activity error" role="alert" data-testid="node-down">
          The node at {config.rpcUrl} is unreachable since {nodeDown.toLocaleTimeString()}; the figures below may be
          stale. The page keeps trying.
        </p>
      )}
      {wrongChain !== null && (
        <p class="activity error" role="alert" data-testid="wrong-chain">
          Your wallet is on chain {wrongChain}, not this deployment's chain {config.chainId}: nothing can be sent until
          it is back.{" "}
          <button type="button" data-testid="switch-chain" onClick={switchChain}>
            Switch the wallet to chain {config.chainId}
          </button>
        </p>
      )}
      <nav role="tablist" aria-label="Views" onKeyDown={onTabKey}>
        {TABS.map((t) => (
          <button
            type="button"
            role="tab"
            id={`tab-${t}`}
            aria-controls="panel"
            aria-selected={tab === t}
            tabIndex={tab === t ? 0 : -1} // one tab stop for the list: the arrow keys move within it
            key={t}
            onClick={() => setTab(t)}
          >
            {t}
          </button>
        ))}
      </nav>
      {/* Always in the page: a screen reader announces what changes in a live region it already knows. */}
      <div role="status" aria-live="polite">
        {activity && (
          <p class={`activity ${activity.kind}`} data-testid="activity">
            {activity.text}
          </p>
        )}
      </div>
      {loadError && !nodeDown && <p class="activity error">{loadError}</p>}
      <main>
        <div role="tabpanel" id="panel" aria-labelledby={`tab-${tab}`} tabIndex={0}>
          {tab === "Protocol" ? (
            <ProtocolView ctx={ctx} />
          ) : !wallet ? (
            <p class="hint">Connect a wallet to see your account{tab === "Trade" ? " and trade" : ""}.</p>
          ) : tab === "Portfolio" ? (
            <PortfolioView ctx={ctx} />
          ) : tab === "Actions" ? (
            <ActionsView ctx={ctx} />
          ) : tab === "Trade" ? (
            <TradeView ctx={ctx} />
          ) : (
            <LendView ctx={ctx} />
          )}
        </div>
      </main>
    </>
  );
}

/** A sub-account id is 0..255. What is typed stays as typed (a new block re-renders the page, and must not undo the
 * user's typing); only a valid id is applied, and anything else is said, with the sub-account still shown. */
function SubAccountField({
  subId,
  disabled,
  onChange,
}: {
  subId: number;
  disabled: boolean; // while an action is in flight: its account stays the one shown
  onChange: (id: number) => void;
}) {
  const [draft, setDraft] = useState(String(subId));
  const problem = subAccountProblem(draft);
  return (
    <>
      <label>
        Sub-account{" "}
        <input
          type="number"
          min={0}
          max={255}
          step={1}
          value={draft}
          disabled={disabled}
          data-testid="sub-account"
          aria-invalid={problem !== null}
          aria-describedby={problem ? "sub-account-problem" : undefined}
          onInput={(e) => {
            const text = (e.target as HTMLInputElement).value;
            setDraft(text);
            if (subAccountProblem(text) === null) onChange(Number(text));
          }}
        />
      </label>
      {problem && (
        <span class="field-error" id="sub-account-problem" data-testid="sub-account-problem">
          {problem}; still showing sub-account {subId}
        </span>
      )}
    </>
  );
}

function subAccountProblem(text: string): string | null {
  try {
    parseSubAccount(text);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

function Connect({
  config,
  wallet,
  busy,
  connect,
}: {
  config: Config;
  wallet: Wallet | null;
  busy: boolean; // no other wallet while an action is in flight
  connect: (how: () => Promise<Wallet> | Wallet) => void;
}) {
  const [devIndex, setDevIndex] = useState(1);
  return (
    <div class="connect">
      {wallet && (
        <span class={`wallet ${wallet.kind}`} data-testid="wallet">
          {wallet.kind === "dev" ? "DEV WALLET · " : ""}
          {wallet.label} {wallet.address.slice(0, 6)}…{wallet.address.slice(-4)}
        </span>
      )}
      <button type="button" disabled={busy} onClick={() => connect(() => injectedWallet(config))}>
        Connect browser wallet
      </button>
      {config.devAccounts.length > 0 && (
        <span class="dev">
          <select
            aria-label="anvil dev account"
            data-testid="dev-account"
            value={devIndex}
            onChange={(e) => setDevIndex(Number((e.target as HTMLSelectElement).value))}
          >
            {config.devAccounts.map((a) => (
              <option value={a.index} key={a.index}>
                dev account {a.index}
              </option>
            ))}
          </select>
          <button type="button" data-testid="use-dev" disabled={busy} onClick={() => connect(() => devWallet(config, devIndex))}>
            Use dev account (local only)
          </button>
        </span>
      )}
    </div>
  );
}

const RETRY_MS = 3000;

/** Loads the deployment and the venues' names, then the app; if the server or the node does not answer yet, says so
 * and tries again until it does. */
async function start() {
  const root = document.getElementById("app")!;
  try {
    const { config, abis } = await loadConfig();
    const client = publicClientOf(config);
    const adapters = config.trading
      ? ((await client.readContract({ address: config.trading, abi: abis.trading, functionName: "venues" })) as string[])
      : [];
    const venueNames = adapters.map(
      (a) => config.venues.find((v) => v.adapter?.toLowerCase() === a.toLowerCase())?.name ?? a.slice(0, 8),
    );
    root.textContent = "";
    render(<App config={config} abis={abis} venueNames={venueNames} />, root);
  } catch (error) {
    const why = nodeProblem(error) ?? (error instanceof Error ? error.message.split("\n")[0] : String(error));
    root.textContent = `PrimeVault cannot start: ${why}; trying again every ${RETRY_MS / 1000} seconds…`;
    setTimeout(start, RETRY_MS);
  }
}

start();
