"""Routing an order across perp venues. Pure computation, no I/O.

Two routers, each exact for its model of a venue: `depth` for venues that fill along a size-linear book
(the local on-chain venues' cost model), `book_router` over order books as the venues show them (levels on
both sides, fees, funding, margin limits and transfers, positions held, steps), whose inputs and consolidated
book are in `books`; `reduce_only` puts a reduce-only order where the positions it reduces are held.
"""

from keeper.routing.book_router import BookSplit, VenueFill, route_books
from keeper.routing.books import BUY, SELL, BookOrder, Level, MarginLimit, MergedLevel, VenueBook, consolidated_book
from keeper.routing.depth import Split, VenueCostModel, optimal_continuous, route
from keeper.routing.reduce_only import reduce_only_split, reducible

__all__ = [
    "BUY",
    "SELL",
    "BookOrder",
    "BookSplit",
    "Level",
    "MarginLimit",
    "MergedLevel",
    "Split",
    "VenueBook",
    "VenueCostModel",
    "VenueFill",
    "consolidated_book",
    "optimal_continuous",
    "reduce_only_split",
    "reducible",
    "route",
    "route_books",
]
