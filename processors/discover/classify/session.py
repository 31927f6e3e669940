"""Pseudonymous identifiers of a browser, device or session: session, visitor, cookie, device ids, tokens."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field

NAMES = ("session", "sessionid", "pseudo", "pseudonymous", "sid", "visitor", "visitorid", "anonymous", "anonymousid",
         "anon", "cookie",
         "cookieid", "device", "deviceid", "idfa", "idfv", "gaid", "aaid", "adid", "advertising", "advertisingid",
         "androidid", "imei", "imsi", "udid", "hwid", "hardwareid", "deviceserial", "serialnumber", "mac",
         "macaddress", "fingerprint", "browserid", "installation", "installid", "install", "instance", "push",
         "pushtoken", "fcm", "apns", "token", "accesstoken", "refreshtoken", "jwt",
         "bearer", "auth", "apikey", "secret", "password", "passwort", "contrasena", "motdepasse", "tracker",
         "clientid", "gclid", "fbclid", "msclkid", "sitzung", "appareil", "geraet", "geraete", "dispositivo",
         "sesion", "apparaat", "urzadzenie", "enhet")
NOT_PERSONAL = ("type", "kind", "count", "duration", "length", "expires", "expiry", "ttl", "start", "end",
                "version", "model", "os", "brand", "name", "vendor", "manufacturer", "language", "type")
_PAYMENT = ("card", "payment", "iban", "karte", "carte", "tarjeta", "carta", "wallet")


class SessionClassifier(Classifier):
    name: ClassVar[str] = "session"

    def classify(self, field: Field) -> list[Evidence]:
        out: list[Evidence] = []
        if field.kind not in ("string", "null", "int", "array"):
            return out
        token = field.named(*NAMES)
        if field.named(*_PAYMENT) or field.within_nearest(*_PAYMENT, "paiement", "pago", "zahlung"):
            token = None   # a card or payment token: transaction.payment
        if token and not field.named(*NOT_PERSONAL):
            if token == "device" and not field.is_id_name:
                return out   # a device record or a device model: device information, not an id
            if token == "clientid" and field.within_nearest("oauth", "app", "api") is None:
                return out   # French/Spanish "client" is the customer
            weight = 0.9 if field.is_id_name or token not in ("device", "push", "instance", "auth") else 0.6
            out.append(Evidence("identifier.session", weight, f"name has '{token}'",
                                format="identifier" if field.kind == "string" else None))
        device = field.within_nearest("device", "devices", "geraet", "geraete", "appareil", "dispositivo", "apparaat",
                                      "hardware", "handset", "terminal")
        if not out and device and field.is_id_name and field.kind in ("string", "int"):
            out.append(Evidence("identifier.session", 0.8, f"the id of a '{device}'",
                                format="identifier" if field.kind == "string" else None))
        for shape, label in (("jwt", "JSON web tokens"), ("mac", "MAC addresses")):
            share = field.share(shape)
            if share >= 0.8:
                out.append(Evidence("identifier.session", 0.8, f"{share:.0%} of values are {label}",
                                    format="identifier"))
        return out
