"""Deterministic generation of seeded records.

Each record is computed from (seed, object type, id) alone, so a page can be
generated on demand without materialising the whole dataset, and the same
arguments always give identical records.

Last-modified times rise with the id from ``SEED_START`` in steps of
``SEED_STEP_MS``. Every fifth id shares its timestamp with the id before it, so
filters on the last-modified property meet ties at page and window boundaries.
"""

from __future__ import annotations

import random
from datetime import date

from .record import Record
from .schema import DEAL_STAGES, INDUSTRIES, LEAD_STATUSES, LIFECYCLE_STAGES
from .timeutil import format_day, format_ms

SEED_START = "2026-01-01T00:00:00.000Z"
SEED_START_MS = 1_767_225_600_000
SEED_STEP_MS = 60_000

_DAY_MS = 86_400_000
_CREATED_SPREAD_MS = 180 * _DAY_MS
_BIRTH_BASE_DAY = date(1950, 1, 1).toordinal() - date(1970, 1, 1).toordinal()
_BIRTH_SPAN_DAYS = 55 * 365
# Random bytes drawn per seeded record. Each property reads its own bytes.
_BYTES_PER_RECORD = 24

# (display name, ASCII form for e-mail addresses). A few names are non-ASCII so
# that clients meet UTF-8 text.
_FIRST_NAMES: tuple[tuple[str, str], ...] = (
    ("Amelia", "amelia"), ("Oliver", "oliver"), ("Isla", "isla"), ("George", "george"),
    ("Ava", "ava"), ("Noah", "noah"), ("Freya", "freya"), ("Arthur", "arthur"),
    ("Zoë", "zoe"), ("Leo", "leo"), ("Priya", "priya"), ("Mohammed", "mohammed"),
    ("Siobhán", "siobhan"), ("Harry", "harry"), ("Chloé", "chloe"), ("Oscar", "oscar"),
    ("Mei", "mei"), ("Tomás", "tomas"), ("Grace", "grace"), ("Jack", "jack"),
    ("Ingrid", "ingrid"), ("Kwame", "kwame"), ("Lucía", "lucia"), ("Theo", "theo"),
    ("Hana", "hana"), ("Rory", "rory"), ("Elif", "elif"), ("Finn", "finn"),
    ("Aisha", "aisha"), ("Łukasz", "lukasz"), ("Niamh", "niamh"), ("Ravi", "ravi"),
)

_LAST_NAMES: tuple[tuple[str, str], ...] = (
    ("Smith", "smith"), ("Jones", "jones"), ("Taylor", "taylor"), ("Brown", "brown"),
    ("Williams", "williams"), ("Wilson", "wilson"), ("Evans", "evans"), ("Thomas", "thomas"),
    ("Patel", "patel"), ("Khan", "khan"), ("O'Brien", "obrien"), ("Müller", "muller"),
    ("García", "garcia"), ("Nakamura", "nakamura"), ("Okafor", "okafor"), ("Walsh", "walsh"),
    ("Kowalski", "kowalski"), ("Hughes", "hughes"), ("Davies", "davies"), ("Novák", "novak"),
    ("Lindqvist", "lindqvist"), ("Chen", "chen"), ("Murphy", "murphy"), ("Roberts", "roberts"),
    ("Campbell", "campbell"), ("Singh", "singh"), ("Mensah", "mensah"), ("Dubois", "dubois"),
    ("Rossi", "rossi"), ("Fernandes", "fernandes"), ("MacLeod", "macleod"), ("Ahmed", "ahmed"),
)

_EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.org", "example.net")

_COMPANY_PREFIXES: tuple[str, ...] = (
    "Harbour", "Northwind", "Bluebell", "Granite", "Kestrel", "Meridian", "Oakridge", "Pennine",
    "Quayside", "Riverside", "Saltmarsh", "Thistle", "Westgate", "Copperfield", "Larkspur", "Heron",
)
_COMPANY_NOUNS: tuple[str, ...] = (
    "Analytics", "Logistics", "Foods", "Software", "Energy", "Health", "Partners", "Labs",
    "Textiles", "Robotics", "Media", "Freight", "Ceramics", "Consulting", "Outfitters", "Studios",
)
_COMPANY_SUFFIXES: tuple[str, ...] = ("Ltd", "plc", "LLP", "GmbH", "Inc.", "Co.")

_LOCATIONS: tuple[tuple[str, str], ...] = (
    ("London", "United Kingdom"), ("Manchester", "United Kingdom"), ("Edinburgh", "United Kingdom"),
    ("Cardiff", "United Kingdom"), ("Dublin", "Ireland"), ("Berlin", "Germany"), ("Lyon", "France"),
    ("Kraków", "Poland"), ("Toronto", "Canada"), ("Austin", "United States"), ("Melbourne", "Australia"),
    ("São Paulo", "Brazil"),
)

_PRODUCTS: tuple[str, ...] = (
    "Annual licence", "Pilot", "Renewal", "Support plan", "Onboarding", "Expansion", "Hardware order", "Training",
)

# None entries make an unset value as likely as one of the listed values.
_LEAD_STATUS_CHOICES: tuple[str | None, ...] = (*LEAD_STATUSES, None)
_NOTE_COUNTS: tuple[str, ...] = tuple(str(count) for count in range(12))
# Fictional London numbers, all in the 020 7946 0xxx range.
_PHONES: tuple[str, ...] = tuple(f"+44 20 7946 0{number:03d}" for number in range(1000))


def seeded_modified_ms(record_id: int) -> int:
    """Return the last-modified time of a seeded record, in epoch milliseconds."""
    slot = record_id - 2 if record_id % 5 == 0 else record_id - 1
    return SEED_START_MS + slot * SEED_STEP_MS


def _cents_to_decimal(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class RecordGenerator:
    """Generates the seeded records of one dataset.

    The constructor draws ``_BYTES_PER_RECORD`` random bytes per seeded record
    from a generator seeded with (seed, object type), and each record is built
    from its own bytes only. That gives random access to any record, and a
    record does not depend on how many records of its type the dataset has.
    """

    def __init__(self, seed: int, counts: dict[str, int]) -> None:
        self._company_count = counts["companies"]
        self._company_names: dict[int, str] = {}
        self._bytes = {
            object_type: random.Random(f"{seed}:{object_type}").randbytes((count + 1) * _BYTES_PER_RECORD)
            for object_type, count in counts.items()
        }
        self._contact_bytes = self._bytes["contacts"]
        self._builders = {
            "contacts": self._contact,
            "companies": self._company,
            "deals": self._deal,
        }

    def generate(self, object_type: str, record_id: int) -> Record:
        """Return seeded record ``record_id`` of ``object_type``. The id must be between 1 and the seeded count."""
        return self._builders[object_type](record_id)

    def _record_bytes(self, object_type: str, record_id: int) -> bytes:
        offset = record_id * _BYTES_PER_RECORD
        return self._bytes[object_type][offset : offset + _BYTES_PER_RECORD]

    def company_name(self, company_id: int) -> str:
        name = self._company_names.get(company_id)
        if name is None:
            name = _company_name(self._record_bytes("companies", company_id))
            self._company_names[company_id] = name
        return name

    def _related_company_name(self, raw: bytes) -> str | None:
        """Return the name of a seeded company chosen by three bytes, or None when there are no companies."""
        if self._company_count == 0:
            return None
        company_id = int.from_bytes(raw, "little") % self._company_count + 1
        name = self._company_names.get(company_id)
        return name if name is not None else self.company_name(company_id)

    def _contact(self, record_id: int) -> Record:
        offset = record_id * _BYTES_PER_RECORD
        b = self._contact_bytes[offset : offset + _BYTES_PER_RECORD]

        first, first_ascii = _FIRST_NAMES[b[0] % len(_FIRST_NAMES)]
        last, last_ascii = _LAST_NAMES[b[1] % len(_LAST_NAMES)]
        domain = _EMAIL_DOMAINS[b[2] % len(_EMAIL_DOMAINS)]
        phone = None if b[7] % 8 == 0 else _PHONES[(b[8] << 8 | b[9]) % len(_PHONES)]
        birth = None
        if b[13] % 6:
            birth = format_day(_BIRTH_BASE_DAY + (b[14] << 8 | b[15]) % _BIRTH_SPAN_DAYS)

        modified_ms = seeded_modified_ms(record_id)
        modified = format_ms(modified_ms)
        created = format_ms(modified_ms - int.from_bytes(b[16:21], "little") % _CREATED_SPREAD_MS)
        properties: dict[str, str | None] = {
            "hs_object_id": str(record_id),
            "email": f"{first_ascii}.{last_ascii}.{record_id}@{domain}",
            "firstname": first,
            "lastname": last,
            "phone": phone,
            "company": self._related_company_name(b[10:13]),
            "lifecyclestage": LIFECYCLE_STAGES[b[3] % len(LIFECYCLE_STAGES)],
            "createdate": created,
            "lastmodifieddate": modified,
            "hs_lead_status": _LEAD_STATUS_CHOICES[b[4] % len(_LEAD_STATUS_CHOICES)],
            "num_notes": _NOTE_COUNTS[b[5] % len(_NOTE_COUNTS)],
            "hs_is_unworked": "true" if b[6] & 1 else "false",
            "date_of_birth": birth,
        }
        return Record(record_id, properties, created, modified)

    def _company(self, record_id: int) -> Record:
        b = self._record_bytes("companies", record_id)

        prefix = _COMPANY_PREFIXES[b[0] % len(_COMPANY_PREFIXES)].lower()
        noun = _COMPANY_NOUNS[b[1] % len(_COMPANY_NOUNS)].lower()
        city, country = _LOCATIONS[b[4] % len(_LOCATIONS)]
        revenue = None if b[5] % 10 == 0 else _cents_to_decimal(int.from_bytes(b[6:11], "little") % 5_000_000_000)

        modified_ms = seeded_modified_ms(record_id)
        modified = format_ms(modified_ms)
        created = format_ms(modified_ms - int.from_bytes(b[16:21], "little") % _CREATED_SPREAD_MS)
        properties: dict[str, str | None] = {
            "hs_object_id": str(record_id),
            "name": self.company_name(record_id),
            "domain": f"{prefix}{noun}{record_id}.example",
            "industry": INDUSTRIES[b[3] % len(INDUSTRIES)],
            "city": city,
            "country": country,
            "numberofemployees": str(1 + (b[11] << 8 | b[12]) % 5000),
            "annualrevenue": revenue,
            "createdate": created,
            "hs_lastmodifieddate": modified,
        }
        return Record(record_id, properties, created, modified)

    def _deal(self, record_id: int) -> Record:
        b = self._record_bytes("deals", record_id)

        company = self._related_company_name(b[10:13])
        product = _PRODUCTS[b[0] % len(_PRODUCTS)]
        amount = None if b[1] % 12 == 0 else _cents_to_decimal(100 + int.from_bytes(b[2:5], "little") % 5_000_000)

        modified_ms = seeded_modified_ms(record_id)
        modified = format_ms(modified_ms)
        created = format_ms(modified_ms - int.from_bytes(b[16:21], "little") % _CREATED_SPREAD_MS)
        properties: dict[str, str | None] = {
            "hs_object_id": str(record_id),
            "dealname": product if company is None else f"{company} - {product}",
            "amount": amount,
            "dealstage": DEAL_STAGES[b[5] % len(DEAL_STAGES)],
            "pipeline": "default",
            "closedate": format_ms(modified_ms + b[6] % 120 * _DAY_MS),
            "createdate": created,
            "hs_lastmodifieddate": modified,
        }
        return Record(record_id, properties, created, modified)


def _company_name(b: bytes) -> str:
    prefix = _COMPANY_PREFIXES[b[0] % len(_COMPANY_PREFIXES)]
    noun = _COMPANY_NOUNS[b[1] % len(_COMPANY_NOUNS)]
    suffix = _COMPANY_SUFFIXES[b[2] % len(_COMPANY_SUFFIXES)]
    return f"{prefix} {noun} {suffix}"
