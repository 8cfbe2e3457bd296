"""The keeper's seats at asynchronous venues (order protocol v2): each bridges the trading module's child orders
and a venue's own API."""
