"""Device information: the fields of a device record, OS, browser, model, screen, app version."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field

CONTEXT = ("device", "devices", "geraet", "geraete", "apparaat", "appareil", "dispositivo", "hardware", "client",
           "browser", "platform",
           "useragent", "ua", "os")
NAMES = ("os", "browser", "model", "devicemodel", "platform", "osversion", "browserversion",
         "resolution", "viewport", "manufacturer", "vendor", "appversion", "carrier_name", "devicetype",
         "betriebssystem", "navigateur", "navegador", "modelo", "modele")


class DeviceClassifier(Classifier):
    name: ClassVar[str] = "device"

    def classify(self, field: Field) -> list[Evidence]:
        if field.kind in ("object", "array"):
            return []
        if field.within_nearest("headers", "header") and field.named(
                "language", "accept", "platform", "mobile", "dnt", "viewport", "dpr", "width"):
            return [Evidence("device.info", 0.8, "a request header describing the client")]
        near = field.within_nearest(*CONTEXT)
        if near and near != "client" and not field.is_id_name:
            return [Evidence("device.info", 0.8, f"part of a '{near}' record")]
        if near == "client" and field.named(*NAMES):
            return [Evidence("device.info", 0.75, "client software")]
        token = field.named(*NAMES)
        if token and field.kind in ("string", "null") and not field.in_product_context:
            return [Evidence("device.info", 0.7, f"name has '{token}'")]
        if field.named_exactly(*NAMES) and field.kind in ("string", "null") and not field.in_product_context:
            return [Evidence("device.info", 0.8, f"'{field.node.name}' describes the device or app")]
        return []
