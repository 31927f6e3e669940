"""Precise locations: latitude and longitude by name and value range, "lat,lon" strings, [lat, lon] pairs."""

from __future__ import annotations

from typing import ClassVar

from processors.discover.classify.base import Classifier, Evidence, Field

LATITUDE = ("lat", "latitude", "breitengrad", "breite", "latitud", "latitudine")
LONGITUDE = ("lon", "lng", "long", "longitude", "laengengrad", "lange", "laenge", "longitud", "longitudine")
PAIR = ("coordinates", "coords", "coord", "latlng", "latlon", "lnglat", "geopoint", "point", "position", "gps",
        "location", "geo", "koordinaten", "coordonnees", "coordenadas", "coordinate")


class CoordinatesClassifier(Classifier):
    name: ClassVar[str] = "coordinates"

    def classify(self, field: Field) -> list[Evidence]:
        node = field.node
        if field.numeric and node.path[-1] != "[]":
            low, high = node.number_min, node.number_max
            lat, lon = field.named(*LATITUDE), field.named(*LONGITUDE)
            if lat and low >= -90 and high <= 90:
                return [Evidence("location.precise", 0.9, f"name has '{lat}', values within ±90",
                                 format="latitude" if field.kind == "float" else None)]
            if lon and low >= -180 and high <= 180 and not (lon == "long" and field.kind == "int"):
                return [Evidence("location.precise", 0.9, f"name has '{lon}', values within ±180",
                                 format="longitude" if field.kind == "float" else None)]
        if field.kind == "string":
            share = field.share("latlon")
            if share >= 0.8:
                return [Evidence("location.precise", 0.85, f"{share:.0%} of values are 'lat,lon' pairs")]
        if field.kind == "array" and node.items is not None and node.items.main_kind == "float":
            items = node.items
            pair = node.present and items.present / node.present == 2
            in_range = items.number_min >= -180 and items.number_max <= 180
            token = field.named(*PAIR)
            if pair and in_range and token:
                return [Evidence("location.precise", 0.9, f"name has '{token}', pairs of coordinates")]
        return []
