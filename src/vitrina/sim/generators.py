"""Event generators for the six built-in streams, drawn from the seed simulators' distributions
(each stream's fields: docs/STREAMS.md).

A generator is called as `gen(rng, now)` with a `random.Random` and the wall-clock time in
float seconds, and returns one JSON-ready dict with exactly the declared field names. Uploads,
site events and store events keep state (items being retried, visitors navigating, open
sessions) so that their sequences look like real traffic rather than independent draws.
"""

from __future__ import annotations

import heapq
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from vitrina.streams.builtin import BUILTIN

Event = dict[str, Any]


class Generator(Protocol):
    def __call__(self, rng: random.Random, now: float) -> Event: ...


def rfc3339(now: float) -> str:
    return datetime.fromtimestamp(now, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _uuid4(rng: random.Random) -> str:
    # From the seeded rng (not uuid.uuid4) so that a seed reproduces a whole run.
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _pick(rng: random.Random, weighted: dict[str, float]) -> str:
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


# -- metrics ---------------------------------------------------------------------------------


class Metrics:
    """The seed load script: metric_1..metric_10 with values in 10.5..100.5."""

    def __call__(self, rng: random.Random, now: float) -> Event:
        event: Event = {}
        if rng.random() < 0.5:  # the seed sent no time; newer producers do
            event["time"] = rfc3339(now)
        event["metric_name"] = f"metric_{rng.randint(1, 10)}"
        event["metric_value"] = rng.uniform(10.5, 100.5)
        if rng.random() < 0.3:
            event["tags"] = {"host": f"web-{rng.randint(1, 4)}", "env": rng.choice(("prod", "staging"))}
        return event


# -- uploads ---------------------------------------------------------------------------------

P_CREATED = (0.05, 0.4, 0.8)  # by attempt number: 1st, 2nd, 3rd and later
ORIGINS = ("upload/ui", "upload/api", "update/manual")
COUNTRIES: dict[str | None, float] = {"RU": 0.4, "CN": 0.2, "US": 0.15, "DE": 0.15, None: 0.1}
MEDIA_HOSTS = {"ours": 0.5, "external": 0.4, "bad": 0.1}
_EXTERNAL = ("images.example.com", "img.example.org", "photos.example.net")
_BAD = ("http://localhost", "http://10.0.0.7", "https://broken.invalid")
_EXTS = ("jpg", "png", "webp")
# A few large sellers send a third of the items, so top-seller figures have something to show.
_BIG_SELLERS = tuple(random.Random(1).sample(range(1000, 10000), 20))
# A seller retries a failed upload this long after the attempt (simulated seconds), whatever the
# rate the simulator sends: the attempt-time figures and their alert rules then read the same at
# `--demo-rate 20` as at 200. (A fixed pool of items in flight made the gap between two attempts
# of one item the pool's size over the rate: at the demo's share on a busy laptop the mean
# attempt time went past the 30 s rule on normal traffic.)
RETRY_AFTER_S = (1.0, 5.0)


@dataclass
class _Item:
    item_id: int
    company_id: int
    category_id: int
    origin: str
    origin_id: int
    country: str | None
    attempts: int = 0


def _media_url(rng: random.Random, ext: str) -> str:
    name = f"{rng.randint(100000, 999999)}.{ext}"
    kind = _pick(rng, MEDIA_HOSTS)
    if kind == "ours":
        return f"https://cdn.host/{name}"
    if kind == "external":
        return f"https://{rng.choice(_EXTERNAL)}/{name}"
    return f"{rng.choice(_BAD)}/{name}"


class Uploads:
    """Product cards retried until created; each call is one attempt: of the item whose retry
    is due soonest if one is due at `now`, else of a new item."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Item]] = []  # a heap: (retry time, tie-break, item)
        self._pushed = 0

    def _new_item(self, rng: random.Random) -> _Item:
        big = rng.random() < 0.3
        country = rng.choices(list(COUNTRIES), weights=list(COUNTRIES.values()))[0]
        return _Item(
            item_id=rng.randint(1_000_000_000, 9_990_000_000),
            company_id=rng.choice(_BIG_SELLERS) if big else rng.randint(1000, 9999),
            category_id=rng.randint(1, 500),
            origin=rng.choice(ORIGINS),
            origin_id=rng.randint(1, 100),
            country=country,
        )

    def __call__(self, rng: random.Random, now: float) -> Event:
        item = heapq.heappop(self._due)[2] if self._due and self._due[0][0] <= now else self._new_item(rng)
        item.attempts += 1
        created = rng.random() < P_CREATED[min(item.attempts, 3) - 1]
        if not created:
            self._pushed += 1
            heapq.heappush(self._due, (now + rng.uniform(*RETRY_AFTER_S), self._pushed, item))
        ts_ns = int(now * 1e9)
        event: Event = {
            "ts_ns": ts_ns,
            "item_id": item.item_id,
            "company_id": item.company_id,
            "category_id": item.category_id,
            "origin": item.origin,
            "country": item.country,
            "event": "SAVE" if created else ("UPDATE" if rng.random() < 0.7 else "ERROR"),
            "attempt_id": _uuid4(rng),
            "request_id": f"req-{rng.getrandbits(48):012x}",
            "up_ts": ts_ns + rng.randint(5_000_000_000, 25_000_000_000) if created else 0,
            "is_created": int(created),
            "origin_id": item.origin_id,
        }
        if rng.random() < 0.5:
            urls = [(ext, _media_url(rng, ext)) for ext in rng.choices(_EXTS, k=rng.randint(0, 5))]
            media: dict[str, int] = {}
            for ext, _ in urls:
                media[ext] = media.get(ext, 0) + 1
            event["media"] = media
            event["url_by_media"] = {f"{ext}:{url}": rng.randint(10_000, 2_000_000) for ext, url in urls}
        if rng.random() < 0.5:
            event["data"] = {"attempt": item.attempts, "client": "vitrina-sim"}
        return event


# -- quotes ----------------------------------------------------------------------------------

LEVELS = range(1, 51)
_BIDS = tuple(f"bid_{i}" for i in LEVELS)
_ASKS = tuple(f"ask_{i}" for i in LEVELS)


class Quotes:
    """An order-book report: bid_i, ask_i = round(uniform(1, 10 i), 1)."""

    def __call__(self, rng: random.Random, now: float) -> Event:
        bids = [round(rng.uniform(1, 10 * i), 1) for i in LEVELS]
        asks = [round(rng.uniform(1, 10 * i), 1) for i in LEVELS]
        event: Event = {"timestamp": now}
        event.update(zip(_BIDS, bids, strict=True))
        event.update(zip(_ASKS, asks, strict=True))
        event["stats"] = [sum(bids) / len(bids), sum(asks) / len(asks)]
        return event


# -- site events -----------------------------------------------------------------------------

SHOP = "https://shop.example/"
PAGES = ("main", "registration", "catalog", "product/1", "product/2", "product/3", "product/4", "cart", "cart/checkout")
PRODUCTS = {1: (100.0, 0.10), 2: (10.0, 0.07), 3: (200.0, 0.08), 4: (9.0, 0.08)}  # id: (price, P(add to cart))
EXIT = "exit"


def _product_row(page: str) -> dict[str, float]:
    others = {p: 0.05 for p in PAGES if p.startswith("product/") and p != page}
    return {"catalog": 0.4, "cart": 0.15, "main": 0.1, **others, EXIT: 0.2}


# Navigation: from a page, the next page or leaving. Most visitors browse the catalog and a
# few products; carts lead to checkout about half the time.
TRANSITIONS: dict[str, dict[str, float]] = {
    "main": {"catalog": 0.45, "registration": 0.1, **{f"product/{k}": 0.05 for k in PRODUCTS}, "cart": 0.05, EXIT: 0.2},
    "registration": {"main": 0.3, "catalog": 0.4, EXIT: 0.3},
    "catalog": {"product/1": 0.2, "product/2": 0.2, "product/3": 0.15, "product/4": 0.15, "main": 0.05, "cart": 0.1, EXIT: 0.15},
    **{f"product/{k}": _product_row(f"product/{k}") for k in PRODUCTS},
    "cart": {"cart/checkout": 0.45, "catalog": 0.25, "main": 0.1, EXIT: 0.2},
    "cart/checkout": {"main": 0.3, "catalog": 0.2, EXIT: 0.5},
}


def diurnal_weight(hour: float) -> float:
    """Relative arrival rate at an hour of the day (UTC): 1.0 near 07:00, 0.15 at 19:00."""
    wave = (1 + math.cos(2 * math.pi * (hour - 7) / 24)) / 2
    return 0.15 + 0.85 * wave**2


@dataclass
class _Visitor:
    user_id: int
    exp: dict[str, str] | None
    page: str = "main"
    viewed: bool = False
    acted: bool = False  # the page's button (add to cart, register, checkout) was considered
    cart: list[int] = field(default_factory=list)


class SiteEvents:
    """Visitors walking the shop's pages; each call is the next step of one visitor."""

    def __init__(self, visitors: int = 100, users: int = 20_000) -> None:
        self.cap, self.users = visitors, users
        self.visitors: list[_Visitor] = []

    def __call__(self, rng: random.Random, now: float) -> Event:
        while True:  # a visitor leaving makes no event: step another one
            if not self.visitors or (len(self.visitors) < self.cap and rng.random() < 0.15):
                exp = {"checkout_button": rng.choice("AB")} if rng.random() < 0.5 else None
                self.visitors.append(_Visitor(rng.randint(1, self.users), exp))
                index = len(self.visitors) - 1
            else:
                index = rng.randrange(len(self.visitors))
            v = self.visitors[index]
            step = self._step(v, rng)
            if step is None:
                self.visitors[index] = self.visitors[-1]
                self.visitors.pop()
                continue
            name, obj, obj_id, url, product_id, amount = step
            event: Event = {
                "dt": rfc3339(now),
                "name": name,
                "user_id": v.user_id,
                "url": url,
                "obj": obj,
                "obj_id": obj_id,
                "product_id": product_id,
                "amount": amount,
            }
            if v.exp is not None:
                event["exp"] = v.exp
            return event

    def _step(self, v: _Visitor, rng: random.Random) -> tuple[str, str, str, str, int, float] | None:
        """(name, obj, obj_id, url, product_id, amount) of the visitor's next event, None if they leave."""
        here = SHOP + v.page
        product = int(v.page.split("/")[1]) if v.page.startswith("product/") else 0
        if not v.viewed:
            v.viewed = True
            return ("view", "page", "", here, product, 0.0)
        if not v.acted:
            v.acted = True
            if product and rng.random() < PRODUCTS[product][1]:
                v.cart.append(product)
                return ("click", "button", "add_to_cart", here, product, PRODUCTS[product][0])
            if v.page == "registration" and rng.random() < 0.5:
                return ("click", "button", "register", here, 0, 0.0)
            if v.page == "cart/checkout" and v.cart and rng.random() < 0.6:
                total = sum(PRODUCTS[p][0] for p in v.cart)
                v.cart.clear()
                return ("click", "button", "checkout", here, 0, total)
        target = _pick(rng, TRANSITIONS[v.page])
        if target == EXIT:
            return None
        v.page, v.viewed, v.acted = target, False, False
        # A link click happens on the current page; obj_id names where it leads.
        return ("click", "url", SHOP + target, here, 0, 0.0)


# -- store events ----------------------------------------------------------------------------

TYPES = {"view": 0.86, "cart": 0.07, "remove_from_cart": 0.03, "purchase": 0.04}
DATACENTERS = {"eu": 0.45, "usa": 0.35, "asia": 0.2}
# (category_code, typical price, brands); a None code or brand is common in the public data.
_CATEGORIES: tuple[tuple[str | None, float, tuple[str | None, ...]], ...] = (
    ("electronics.smartphone", 350.0, ("samsung", "apple", "xiaomi", "huawei")),
    ("electronics.audio.headphone", 60.0, ("sony", "jbl", "apple", None)),
    ("computers.notebook", 800.0, ("lenovo", "hp", "asus", "acer")),
    ("appliances.kitchen.refrigerators", 500.0, ("lg", "bosch", "samsung")),
    ("apparel.shoes", 70.0, ("nike", "adidas", None)),
    ("furniture.living_room.sofa", 400.0, ("ikea", None)),
    (None, 25.0, (None, "generic")),
)
_CATEGORY_ID0 = 2053013555631882655  # category ids in the public data are this large


@dataclass(frozen=True)
class _Product:
    product_id: int
    category_id: int
    category_code: str | None
    brand: str | None
    price: float


@dataclass
class _Session:
    user_id: int
    session: str
    datacenter: str
    cart: list[_Product] = field(default_factory=list)


def _catalog(size: int) -> list[_Product]:
    rng = random.Random(5)  # the same catalog on every run, whatever the seed
    out = []
    for k in range(size):
        index = rng.randrange(len(_CATEGORIES))
        code, typical, brands = _CATEGORIES[index]
        price = round(typical * rng.lognormvariate(0, 0.4), 2)
        out.append(_Product(1_000_000 + 17 * k, _CATEGORY_ID0 + index, code, rng.choice(brands), max(price, 0.99)))
    return out


class StoreEvents:
    """Shoppers in three regions viewing, carting and buying from a fixed catalog."""

    def __init__(self, products: int = 300, sessions: int = 200) -> None:
        self.catalog = _catalog(products)
        # Popularity falls off with rank, so top-product figures are not flat.
        self.cum_weights = list(_cumulative(1 / (rank + 1) ** 0.8 for rank in range(products)))
        self.cap = sessions
        self.sessions: list[_Session] = []

    def _session(self, rng: random.Random) -> _Session:
        if not self.sessions or rng.random() < 0.05:
            fresh = _Session(rng.randint(500_000_000, 600_000_000), _uuid4(rng), _pick(rng, DATACENTERS))
            if len(self.sessions) < self.cap:
                self.sessions.append(fresh)
            else:
                self.sessions[rng.randrange(self.cap)] = fresh
            return fresh
        return rng.choice(self.sessions)

    def __call__(self, rng: random.Random, now: float) -> Event:
        s = self._session(rng)
        kind = _pick(rng, TYPES)
        if kind in ("remove_from_cart", "purchase") and s.cart:
            product = s.cart.pop(rng.randrange(len(s.cart)))
        else:
            if kind == "remove_from_cart":  # nothing to remove: they were just looking
                kind = "view"
            product = rng.choices(self.catalog, cum_weights=self.cum_weights)[0]
            if kind == "cart":
                s.cart.append(product)
        event: Event = {}
        if rng.random() < 0.9:
            event["time"] = rfc3339(now)
        event.update(
            type=kind,
            product_id=product.product_id,
            category_id=product.category_id,
            category_code=product.category_code,
            brand=product.brand,
            price=product.price,
            user_id=s.user_id,
            user_session=s.session,
            datacenter=s.datacenter,
        )
        return event


def _cumulative(values: Any) -> Any:
    total = 0.0
    for v in values:
        total += v
        yield total


# -- probes ----------------------------------------------------------------------------------

# Median response time per location (ms): the far regions answer slower.
LOCATIONS = {
    "eu-west": 40.0,
    "eu-central": 45.0,
    "us-east": 70.0,
    "us-west": 95.0,
    "asia-south": 190.0,
    "asia-east": 150.0,
    "sa-east": 160.0,
}
TARGETS = ("https://shop.example/", "https://shop.example/catalog", "https://api.shop.example/health", "https://cdn.shop.example/ping")
STATUSES = {200: 0.965, 500: 0.01, 503: 0.015, 0: 0.01}  # 0: no answer before the timeout
TIMEOUT_MS = 10_000.0


class Probes:
    """Availability checks from several locations against a few endpoints."""

    def __call__(self, rng: random.Random, now: float) -> Event:
        location = rng.choice(list(LOCATIONS))
        status = rng.choices(list(STATUSES), weights=list(STATUSES.values()))[0]
        took = TIMEOUT_MS if status == 0 else min(LOCATIONS[location] * rng.lognormvariate(0, 0.35), TIMEOUT_MS)
        return {
            "time": rfc3339(now),
            "location": location,
            "target": rng.choice(TARGETS),
            "status_code": status,
            "response_time_ms": round(took, 1),
        }


# -- registry --------------------------------------------------------------------------------

GENERATORS: dict[str, Callable[[], Generator]] = {
    "metrics": Metrics,
    "uploads": Uploads,
    "quotes": Quotes,
    "site_events": SiteEvents,
    "store_events": StoreEvents,
    "probes": Probes,
}
_shared: dict[str, Generator] = {}


def generator(stream: str) -> Generator:
    """A new generator (with its own state) for a built-in stream."""
    try:
        factory = GENERATORS[stream]
    except KeyError:
        raise KeyError(f"no simulator for stream {stream!r}; simulated streams: {', '.join(GENERATORS)}") from None
    return factory()


def make_event(stream: str, rng: random.Random, now: float) -> Event:
    """One event of `stream`, from a generator shared by all callers of this function."""
    if stream not in _shared:
        _shared[stream] = generator(stream)
    return _shared[stream](rng, now)


# Required fields other than times (a bad time is refused too, but later and differently).
_REQUIRED = {s.name: tuple(f for f in s.fields if f.required and f.kind != "timestamp") for s in BUILTIN}


def spoil(stream: str, event: Event, rng: random.Random) -> Event:
    """A copy of `event` that validation must refuse: a required field missing or mistyped."""
    bad = dict(event)
    f = rng.choice(_REQUIRED[stream])
    if rng.random() < 0.3:
        del bad[f.name]
    else:
        bad[f.name] = [1] if f.kind in ("string", "enum") else "oops"
    return bad
