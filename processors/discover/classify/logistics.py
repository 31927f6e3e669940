"""Deliveries: carrier, tracking and shipment numbers (``transaction.logistics``)."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field

NAMES = ("carrier", "tracking", "trackingnumber", "shipment", "shipmentid", "parcel", "courier", "versand",
         "sendung", "sendungsnummer", "paket", "livraison", "suivi", "colis", "transporteur", "envio",
         "seguimiento", "transportista", "spedizione", "corriere", "waybill", "consignment", "awb", "dispatch",
         "delivery", "lieferung")


class LogisticsClassifier(Classifier):
    name: ClassVar[str] = "logistics"

    def classify(self, field: Field) -> list[Evidence]:
        if field.kind not in ("string", "null", "int"):
            return []
        token = field.named(*NAMES)
        if field.within_nearest("network", "mobile", "telecom", "sim", "cellular", "netz", "reseau", "red"):
            return []   # a mobile network's carrier
        if token and not field.named(
                "address", "adresse", "name", "phone", "email", "date", "at", "time", "fee", "cost", "price",
                "note", "notes", "instructions", "comment", "window", "status", "method", "type"):
            return [Evidence("transaction.logistics", 0.85, f"name has '{token}'")]
        if token and field.named("status", "method", "type"):
            return [Evidence("transaction.logistics", 0.6, f"name has '{token}'")]
        return []
