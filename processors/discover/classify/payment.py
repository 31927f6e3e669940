"""Payments: payment status and method, card and bank account numbers (``transaction.payment``)."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field

NAMES = ("payment", "payments", "zahlung", "zahlungsart", "paiement", "pago", "pagamento", "card", "karte",
         "carte", "tarjeta", "carta", "iban", "bic", "swift", "pan", "cvv", "cvc", "creditcard", "kreditkarte",
         "bankaccount", "accountnumber", "kontonummer", "sortcode", "routing", "wallet", "paypal", "charge",
         "refund", "billing", "last4", "cardlast4", "expiry", "psp", "stripe", "adyen", "klarna", "sepa", "mandate")
NOT_PAYMENT = ("address", "adresse", "name", "email", "phone", "city", "street", "zip", "postcode", "country",
               "loyalty", "gift", "boarding", "cardtype", "fidelidad", "fidelite", "fedelta", "club", "bonus",
               "membership", "member", "socio", "mitglied", "kundenkarte", "treue", "punti", "puntos", "points")


class PaymentClassifier(Classifier):
    name: ClassVar[str] = "payment"

    def classify(self, field: Field) -> list[Evidence]:
        if field.kind in ("object", "array", "float"):
            return []
        token = field.named(*NAMES)
        if token is None and field.within_nearest("payment", "payments", "zahlung", "paiement", "pago", "pagamento",
                                                  "card", "karte", "carte", "tarjeta", "carta", "paymentmethod"):
            token = "payment"
        if field.within_nearest("loyalty", "membership", "gift", "club", "bonus", "fidelite", "fidelidad"):
            return []
        if token and not field.named(*NOT_PAYMENT) and not field.named("amount", "total", "currency", "sum", "at",
                                                                      "date", "time", "timestamp"):
            return [Evidence("transaction.payment", 0.85, f"name has '{token}'")]
        return []
