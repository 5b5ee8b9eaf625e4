"""The simulated world's reference data: products, stores, customers and titles.

Built once from a seeded rng. Products and titles are listed most popular first (their
ids are shuffled, so popularity does not follow the id). Stores, products and customers
are the rows :mod:`producers.simulators.seed` writes to PostgreSQL; titles and viewers
exist only in the event stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

CURRENCY = "EUR"

# fmt: off
# category -> (base products, price range in cents)
_PRODUCTS: dict[str, tuple[tuple[str, ...], tuple[int, int]]] = {
    "produce": (
        ("Apples", "Bananas", "Carrots", "Tomatoes", "Spinach", "Avocados", "Lemons", "Potatoes", "Onions", "Strawberries"),
        (49, 499),
    ),
    "dairy": (
        ("Whole Milk", "Greek Yogurt", "Butter", "Cheddar", "Mozzarella", "Cream", "Eggs", "Skyr"),
        (79, 699),
    ),
    "bakery": (
        ("Sourdough Loaf", "Baguette", "Croissants", "Rye Bread", "Bagels", "Muffins", "Brioche"),
        (99, 549),
    ),
    "pantry": (
        ("Spaghetti", "Basmati Rice", "Olive Oil", "Chickpeas", "Tomato Passata", "Peanut Butter", "Oat Flakes", "Coffee Beans", "Black Tea", "Honey"),
        (89, 1299),
    ),
    "frozen": (
        ("Garden Peas", "Pizza Margherita", "Fish Fingers", "Vanilla Ice Cream", "Spinach Cubes", "Berry Mix"),
        (129, 799),
    ),
    "household": (
        ("Dish Soap", "Laundry Detergent", "Paper Towels", "Toilet Paper", "Trash Bags", "Sponges"),
        (149, 1499),
    ),
    "beverages": (
        ("Sparkling Water", "Orange Juice", "Cola", "Apple Juice", "Oat Drink"),
        (59, 399),
    ),
}
# site -> (lat, lon) of the store: the simulated shoppers' and deliveries' map
_COORDS: dict[str, tuple[float, float]] = {
    "Amsterdam Centrum": (52.3731, 4.8922),
    "Hamburg Altona": (53.5503, 9.9353),
    "Lyon Part-Dieu": (45.7606, 4.8594),
    "Milan Navigli": (45.452, 9.176),
    "Vienna Neubau": (48.201, 16.349),
    "Krakow Kazimierz": (50.051, 19.945),
    "Porto Ribeira": (41.1407, -8.6133),
    "Nantes Ile": (47.21, -1.556),
    "Brussels Ixelles": (50.827, 4.372),
    "Zurich Kreis 4": (47.378, 8.525),
    "Munich Schwabing": (48.162, 11.586),
    "Copenhagen Norrebro": (55.694, 12.549),
}
# variant -> price factor
_VARIANTS: dict[str, float] = {"": 1.0, "Organic ": 1.4, "Value ": 0.7, "Family Pack ": 2.2}
_SITES = (
    ("Amsterdam Centrum", "north"),
    ("Hamburg Altona", "north"),
    ("Lyon Part-Dieu", "south"),
    ("Milan Navigli", "south"),
    ("Vienna Neubau", "east"),
    ("Krakow Kazimierz", "east"),
    ("Porto Ribeira", "west"),
    ("Nantes Ile", "west"),
    ("Brussels Ixelles", "central"),
    ("Zurich Kreis 4", "central"),
    ("Munich Schwabing", "central"),
    ("Copenhagen Norrebro", "north"),
)
_FIRST = ("Ada", "Ben", "Chloe", "David", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kira", "Luca", "Mila", "Nico", "Olga", "Pablo", "Rosa", "Sami", "Tess", "Yara")
_LAST = ("Adler", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Horvat", "Ivanova", "Jansen", "Keller", "Lopez", "Moreau", "Novak", "Olsen", "Petit", "Rossi", "Schmidt", "Weber", "Zielinski")
_GENRES = ("drama", "comedy", "documentary", "thriller", "sci_fi", "kids", "animation", "crime", "romance")
_ADJECTIVES = ("Silent", "Golden", "Broken", "Hidden", "Last", "Northern", "Crimson", "Endless", "Quiet", "Wild", "Distant", "Lost", "Paper", "Electric", "Winter", "Burning", "Hollow", "Bright", "Secret", "Falling")
_NOUNS = ("Harbor", "Kingdom", "Signal", "Garden", "River", "Machine", "Orchard", "Frontier", "Lantern", "Empire", "Island", "Circuit", "Meadow", "Tide", "Compass", "Mirror", "Valley", "Station", "Archive", "Storm")
# kind -> (share of titles, duration range in minutes)
_KINDS: dict[str, tuple[float, tuple[int, int]]] = {
    "movie": (0.35, (80, 160)),
    "episode": (0.45, (20, 60)),
    "short": (0.20, (4, 15)),
}
# fmt: on


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str
    category: str
    unit_price: Decimal
    currency: str
    low_stock_threshold: int
    restock_level: int
    """What a delivery tops a store's stock up to (the simulator's order-up-to level)."""


@dataclass(frozen=True, slots=True)
class Store:
    store_id: str
    name: str
    region: str
    lat: float = 0.0
    lon: float = 0.0


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Title:
    title_id: str
    name: str
    genre: str
    kind: str
    duration_s: int


@dataclass(frozen=True, slots=True)
class Catalog:
    products: tuple[Product, ...]  # most popular first
    stores: tuple[Store, ...]  # busiest first
    customers: tuple[Customer, ...]  # most frequent buyer first
    titles: tuple[Title, ...]  # most watched first
    viewers: tuple[str, ...]


def build_catalog(
    rng: random.Random,
    *,
    skus: int = 120,
    stores: int = 8,
    customers: int = 500,
    titles: int = 200,
    viewers: int = 2000,
) -> Catalog:
    """Draw a catalog from ``rng``; the same rng state always yields the same catalog."""
    return Catalog(
        products=_products(rng, skus),
        stores=_stores(rng, stores),
        customers=_customers(rng, customers),
        titles=_titles(rng, titles),
        viewers=tuple(f"user-{n:05d}" for n in range(1, viewers + 1)),
    )


def _products(rng: random.Random, count: int) -> tuple[Product, ...]:
    combos = [
        (c, base, v) for c, (bases, _) in _PRODUCTS.items() for base in bases for v in _VARIANTS
    ]
    if not 1 <= count <= len(combos):
        raise ValueError(f"skus must be between 1 and {len(combos)}")
    picked = rng.sample(combos, count)
    numbers = rng.sample(range(1, 10_000), count)
    products = []
    for rank, ((category, base, variant), number) in enumerate(zip(picked, numbers, strict=True)):
        low, high = _PRODUCTS[category][1]
        cents = int(rng.randint(low, high) * _VARIANTS[variant]) // 10 * 10 + 9  # prices end in 9
        popular = rank < max(1, count // 10)
        threshold = rng.randint(10, 15) if popular else rng.randint(3, 8)
        products.append(
            Product(
                sku=f"{category[:3].upper()}-{number:04d}",
                name=f"{variant}{base}",
                category=category,
                unit_price=(Decimal(cents) / 100).quantize(Decimal("0.01")),
                currency=CURRENCY,
                low_stock_threshold=threshold,
                restock_level=threshold * rng.randint(3, 5) + rng.randint(0, 10),
            )
        )
    return tuple(products)


def _stores(rng: random.Random, count: int) -> tuple[Store, ...]:
    if not 1 <= count <= len(_SITES):
        raise ValueError(f"stores must be between 1 and {len(_SITES)}")
    sites = rng.sample(_SITES, count)
    ids = rng.sample(range(1, 100), count)
    return tuple(
        Store(
            store_id=f"store-{n:02d}",
            name=f"Riverbed Market {name}",
            region=region,
            lat=_COORDS[name][0],
            lon=_COORDS[name][1],
        )
        for n, (name, region) in zip(ids, sites, strict=True)
    )


def _customers(rng: random.Random, count: int) -> tuple[Customer, ...]:
    ids = list(range(1, count + 1))
    rng.shuffle(ids)
    return tuple(
        Customer(customer_id=f"cust-{n:05d}", name=f"{rng.choice(_FIRST)} {rng.choice(_LAST)}")
        for n in ids
    )


def _titles(rng: random.Random, count: int) -> tuple[Title, ...]:
    names = rng.sample([f"The {a} {n}" for a in _ADJECTIVES for n in _NOUNS], count)
    kinds = list(_KINDS)
    shares = [share for share, _ in _KINDS.values()]
    titles = []
    for n, name in zip(rng.sample(range(1, 10_000), count), names, strict=True):
        kind = rng.choices(kinds, weights=shares)[0]
        low, high = _KINDS[kind][1]
        shown = f"{name}: S{rng.randint(1, 4)}E{rng.randint(1, 10)}" if kind == "episode" else name
        titles.append(
            Title(
                title_id=f"title-{n:04d}",
                name=shown,
                genre=rng.choice(_GENRES),
                kind=kind,
                duration_s=rng.randint(low * 60, high * 60),
            )
        )
    return tuple(titles)


def unknown_customer_id(rng: random.Random) -> str:
    """A customer id no catalog contains (known ids are ``cust-`` and five digits)."""
    return f"cust-x{rng.getrandbits(40):010x}"
