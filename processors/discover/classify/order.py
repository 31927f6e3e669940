"""Orders: order, cart and invoice ids and the amounts of an order (``transaction.order``)."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field

ORDERS = ("order", "orders", "cart", "basket", "invoice", "bestellung", "bestell", "bestellnummer", "auftrag",
          "commande", "pedido", "ordine", "rechnung", "facture", "factura", "fattura", "receipt", "quote",
          "booking", "reservation", "buchung", "reserva", "purchase", "checkout", "warenkorb", "panier", "carrito",
          "trip", "ride", "journey",
          "viaje", "fahrt", "reis", "voyage", "viaggio", "corsa", "bestelling", "zamowienie", "bestallning",
          "encomenda", "pedidos", "rit",
          "orderid", "ordernumber", "transaction")
AMOUNTS = ("total", "amount", "sum", "betrag", "gesamt", "gesamtbetrag", "montant", "importe", "totale", "fare",
           "bedrag", "kwota", "belopp", "valor", "tarif", "tarifa", "tariffa",
           "importo", "grandtotal", "subtotal", "revenue", "value", "summe", "spent", "spend", "paid", "due")
_CARTS = ("cart", "basket", "warenkorb", "panier", "carrito", "carrello", "checkout", "totals", "summary")


def _of_an_item(field: Field) -> bool:
    """An item's or product's amount (its price), not the order's; a cart's total is the order's."""
    return field.in_product_context and field.within_nearest(*_CARTS) is None


class OrderClassifier(Classifier):
    name: ClassVar[str] = "order"

    def classify(self, field: Field) -> list[Evidence]:
        if field.kind in ("bool", "object", "array"):
            return []
        owner = field.named(*ORDERS)
        if owner and field.kind in ("string", "int", "null") and (
                field.is_id_name or owner in ("orderid", "ordernumber", "bestellnummer")):
            if field.named("status", "type", "state", "kind", "channel", "source", "line", "item"):
                return []
            return [Evidence("transaction.order", 0.9, f"name has '{owner}' and is an id",
                             format="identifier" if field.kind == "string" else None)]
        near = field.within_nearest(*ORDERS)
        if near and field.kind in ("string", "int") and field.named_exactly("id", "number", "nr", "no", "ref", "uuid"):
            return [Evidence("transaction.order", 0.85, f"the id of an '{near}'",
                             format="identifier" if field.kind == "string" else None)]
        amount = field.named(*AMOUNTS) or (
            "amount" if field.within_nearest(*AMOUNTS, "totals", "fare") and field.named_exactly(
                "value", "net", "gross", "grand", "grandtotal", "subtotal", "amount") else None)
        numeric = field.numeric or (field.kind == "string" and field.share("decimal") >= 0.95)
        if amount and numeric and not field.in_array and not _of_an_item(field):
            return [Evidence("transaction.order", 0.75, f"name has '{amount}': the amount of an order")]
        return []
