"""Evidence that a field is NOT personal data: event metadata, times, codes, counts, product data.

Without it every unknown field would go to review; with it the report can say why a field was left
untagged.
"""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field
from processors.discover.classify.order import AMOUNTS
from processors.discover.shapes import is_timestamp

EVENT_IDS = ("event", "message", "request", "trace", "span", "correlation", "causation", "idempotency", "record",
             "batch", "job", "run", "schema", "offset", "partition", "envelope", "dedup", "nonce", "ingestion",
             "msg", "evento", "ereignis", "evenement", "ticket", "case", "incident", "task")
METADATA = ("type", "kind", "status", "state", "version", "schema", "source", "channel", "action", "topic",
            "origin", "currency", "waehrung", "devise", "moneda", "valuta", "country", "land", "pays", "pais",
            "paese", "countrycode", "category", "priority", "severity", "level", "tier", "segment", "locale",
            "language", "lang", "sprache", "langue", "idioma", "lingua", "timezone", "tz", "environment", "env",
            "app", "application", "service", "method", "code", "result", "outcome", "reason", "purpose", "granted",
            "consent", "policy", "format", "unit", "mode", "flag", "enabled", "active", "region", "brand", "tag",
            "tags", "label", "labels", "sentiment", "rating", "score", "count", "quantity", "qty", "menge", "cantidad",
            "quantite", "quantita", "ms", "duration", "latency", "size", "bytes", "length", "width", "height",
            "sku", "ean", "gtin", "isbn", "upc", "product", "productid", "article", "artikel", "price", "preis",
            "prix", "precio", "prezzo", "discount", "tax", "vat", "rate", "weight", "gewicht", "stock", "http",
            "statuscode", "method", "verb", "host", "hostname", "domain", "endpoint", "operation", "step", "stage")
THINGS = ("store", "shop", "tienda", "boutique", "magasin", "geschaeft", "filiale", "negozio", "merchant", "agent",
          "team", "warehouse", "lager", "product", "produit", "producto", "produkt", "prodotto", "articulo", "article",
          "artikel", "sku", "tenant", "site", "campaign", "coupon", "promo", "template", "category", "brand", "vendor",
          "supplier", "partner", "app", "build", "release", "experiment", "variant", "page", "attachment",
          "anhang", "file", "dataset", "table", "queue", "sucursal")
TIME_NAMES = ("at", "time", "timestamp", "ts", "date", "datetime", "created", "updated", "modified", "occurred",
              "received", "sent", "published", "expires", "started", "ended", "zeit", "datum", "fecha", "heure",
              "horodatage", "data", "ora", "when", "since", "until", "deadline")


class NotPersonalClassifier(Classifier):
    name: ClassVar[str] = "not_personal"

    def classify(self, field: Field) -> list[Evidence]:
        kind = field.kind
        if kind in ("object", "array"):
            return []
        if kind == "bool":
            return [Evidence(None, 0.9, "a yes/no flag")]
        if kind == "string" and field.share("timestamp") >= 0.95:
            # the format is validated on every value: only when every sampled value is one
            every = set(field.node.kinds) <= {"string", "null"} and all(map(is_timestamp, field.values))
            return [Evidence(None, 0.7, "RFC 3339 times", format="timestamp" if every else None)]
        owner = field.named(*EVENT_IDS)
        if owner and field.is_id_name:
            return [Evidence(None, 0.85, f"the id of the '{owner}' itself (event metadata)")]
        if field.node.path == (field.node.name,) and field.named_exactly("id", "uuid", "guid", "key"):
            return [Evidence(None, 0.7, "the record's own id")]
        node = field.node
        if (len(node.path) == 1 and field.is_id_name and kind == "string" and node.kinds["string"] >= 20
                and len(node.distinct) == node.kinds["string"]):
            return [Evidence(None, 0.6, "unique in every record: the record's own id")]
        thing = field.named(*THINGS) or field.within_nearest(*THINGS)
        if thing and field.is_id_name:
            return [Evidence(None, 0.8, f"the id of a '{thing}', not of a person")]
        token = field.named(*METADATA)
        if token and field.named(*AMOUNTS) and not field.in_array:
            token = None   # "total_price": the amount of an order, for the order rule to judge
        if token:
            return [Evidence(None, 0.7 if kind == "string" else 0.8, f"name has '{token}' (metadata)")]
        if kind == "string" and field.named(*TIME_NAMES) and field.share("date") >= 0.9:
            return [Evidence(None, 0.6, "dates")]
        out: list[Evidence] = []
        if kind == "string":
            for shape, label in (("country", "country codes"), ("currency", "currency codes")):
                if field.share(shape) >= 0.95:
                    out.append(Evidence(None, 0.7, f"values are {label}"))
            if field.in_product_context:
                out.append(Evidence(None, 0.6, "part of a product or item"))
            if _closed_set(field):
                out.append(Evidence(None, 0.5, f"{len(field.node.distinct)} distinct values: a closed set"))
        elif field.numeric:
            out.append(Evidence(None, 0.4, "a number"))
        return out


def _closed_set(field: Field) -> bool:
    count = field.node.kinds["string"]
    distinct = len(field.node.distinct)
    return count >= 20 and distinct <= 12 and distinct / count <= 0.1 and field.share("text") < 0.2 and (
        field.share("email") == 0 and field.share("person_name") < 0.5)
