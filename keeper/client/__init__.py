"""The client layer: the only code that calls contract functions. One typed client per contract kind, each bound
to its shipped ABI, returning dataclasses in named fields rather than raw tuples:

- `vault.VaultClient`: the vault (accounts, health, configuration, liquidation, governance);
- `lens.LensClient`: batch reads (every account a page at a time, every collateral price);
- `trading.TradingClient`: the trading module (orders, positions, the backstop book, venue margin, listing);
- `adapters.AdapterClient`: one vault adapter per venue, with that adapter's own ABI;
- `venues/`: the venues themselves (quotes and cost models for the router, the local venues' listing);
- `feeds.FeedClient` and `tokens.TokenClient`: price feeds (decimals from the chain) and ERC-20 tokens.
"""
