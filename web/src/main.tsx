import { render } from "preact";
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import type { AppContext } from "./app";
import { type Call, describeError, devWallet, injectedWallet, publicClientOf, send, type Wallet } from "./chain";
import { type Abis, type Config, loadConfig } from "./config";
import { loadPortfolio, type Portfolio, subAccount } from "./reads";
import { ActionsView } from "./views/actions";
import { LendView } from "./views/lend";
import { PortfolioView } from "./views/portfolio";
import { ProtocolView } from "./views/protocol";
import { TradeView } from "./views/trade";
import "./style.css";

const TABS = ["Portfolio", "Actions", "Trade", "Lend", "Protocol"] as const;
type Tab = (typeof TABS)[number];
const POLL_MS = 1000;

interface Activity {
  text: string;
  kind: "progress" | "done" | "error";
}

function App({ config, abis, venueNames }: { config: Config; abis: Abis; venueNames: string[] }) {
  const client = useMemo(() => publicClientOf(config), [config]);
  const [wallet, setWallet] = useState<Wallet | null>(null);
  const [subId, setSubId] = useState(0);
  const [tab, setTab] = useState<Tab>("Portfolio");
  const [portfolio, setPortfolio] = useState<Portfolio | null>(null);
  const [activity, setActivity] = useState<Activity | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const refresh = useCallback(() => setTick((t) => t + 1), []);
  const account = wallet ? subAccount(wallet.address, subId) : null;

  // Re-read on every new block (and after every action), so fills and liquidations show without a reload.
  useEffect(() => {
    let last = -1n;
    const timer = setInterval(async () => {
      try {
        const block = await client.getBlockNumber({ cacheTime: 0 });
        if (block !== last) {
          last = block;
          refresh();
        }
      } catch {
        // the next poll reports through the portfolio read
      }
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [client, refresh]);

  useEffect(() => {
    if (!wallet) return;
    let current = true;
    loadPortfolio(client, config, abis, venueNames, wallet.address, subId, BigInt(config.block))
      .then((p) => current && (setPortfolio(p), setLoadError(null)))
      .catch((e) => current && setLoadError(`cannot read the account: ${e instanceof Error ? e.message.split("\n")[0] : e}`));
    return () => {
      current = false;
    };
  }, [client, config, abis, venueNames, wallet, subId, tick]);

  const run = useCallback(
    async (calls: Call[]) => {
      if (!wallet) return false;
      try {
        for (const call of calls) await send(client, wallet, call, config.gasMargin, (text) => setActivity({ text, kind: "progress" }));
        setActivity({ text: `${calls[calls.length - 1].label}: done`, kind: "done" });
        return true;
      } catch (error) {
        setActivity({ text: await describeError(calls[0].label, error), kind: "error" });
        return false;
      } finally {
        refresh();
      }
    },
    [client, config, wallet, refresh],
  );

  const connect = async (how: () => Promise<Wallet> | Wallet) => {
    try {
      setPortfolio(null);
      setWallet(await how());
      setActivity(null);
    } catch (error) {
      setActivity({ text: await describeError("connect", error), kind: "error" });
    }
  };

  const ctx: AppContext = { config, abis, client, venueNames, wallet, subId, account, portfolio, run, refresh };
  return (
    <>
      <header>
        <h1>PrimeVault</h1>
        <span class="chain" data-testid="chain">
          {config.chainId === 31337 ? "local devnet (anvil)" : `chain ${config.chainId}`}
        </span>
        <Connect config={config} wallet={wallet} connect={connect} />
      </header>
      {wallet && (
        <div class="account-bar">
          <label>
            Sub-account{" "}
            <input
              type="number"
              min={0}
              max={255}
              value={subId}
              data-testid="sub-account"
              onChange={(e) => {
                const value = Number((e.target as HTMLInputElement).value);
                if (Number.isInteger(value) && value >= 0 && value <= 255) setSubId(value);
              }}
            />
          </label>
          <code data-testid="account-address">{account}</code>
        </div>
      )}
      <nav role="tablist">
        {TABS.map((t) => (
          <button type="button" role="tab" aria-selected={tab === t} key={t} onClick={() => setTab(t)}>
            {t}
          </button>
        ))}
      </nav>
      {activity && (
        <p class={`activity ${activity.kind}`} role="status" aria-live="polite" data-testid="activity">
          {activity.text}
        </p>
      )}
      {loadError && <p class="activity error">{loadError}</p>}
      <main>
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
      </main>
    </>
  );
}

function Connect({
  config,
  wallet,
  connect,
}: {
  config: Config;
  wallet: Wallet | null;
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
      <button type="button" onClick={() => connect(() => injectedWallet(config))}>
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
          <button type="button" data-testid="use-dev" onClick={() => connect(() => devWallet(config, devIndex))}>
            Use dev account (local only)
          </button>
        </span>
      )}
    </div>
  );
}

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
    root.textContent = `PrimeVault cannot start: ${error instanceof Error ? error.message.split("\n")[0] : error}`;
  }
}

start();
