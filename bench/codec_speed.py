"""Per-event cost of the record codecs Lethe could use, on the sample order and log events.

    /tmp/venv0/bin/python bench/codec_speed.py [--repeat 5] [--min-time 0.2]

For schemas/examples/{orders,logs}.v1.json with schemas/{orders,logs}.v1.avsc, measured paths:

  avro          the ``avro`` package: DatumWriter + BinaryEncoder, DatumReader + BinaryDecoder
                (DatumWriter.write validates the datum against the schema first, as it always does)
  fastavro      fastavro.schemaless_writer / schemaless_reader with a parse_schema'd schema
  fastavro-cat  the same calls with TopicSchema.parsed from processors.schemas.SchemaCatalog (as
                Decoder and the pipeline's Avro encoder use it; read with reader schema = writer schema)
  lethe-json    orjson.loads + Lethe's compiled validator (processors.validate.compile_validator)
                to decode, orjson.dumps to encode (Lethe's JSON input and output path)
  Decoder/avro  processors.decode.Decoder.decode on single-object Avro bytes
                (C3 01 + fingerprint + fastavro body); "encode" is what a producer pays to build them
  Decoder/json  processors.decode.Decoder.decode on compact JSON bytes; "encode" is orjson.dumps

Every operation is timed with timeit: the loop count is chosen so that one run lasts at least
--min-time seconds, the run is repeated --repeat times (interleaved across all operations of a
topic) and the best run is kept. events/s is 1 / (encode + decode). This is a benchmark, not a
test: it checks only that every codec round-trips the sample, never anything about time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import avro
import avro.io
import avro.schema
import fastavro
import orjson
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from processors.decode import SINGLE_OBJECT_MAGIC, Decoder
from processors.schemas import SchemaCatalog
from processors.validate import compile_validator

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "schemas"
TOPICS = ("orders.v1", "logs.v1")


@dataclass(frozen=True)
class Codec:
    name: str
    encode: Callable[[], bytes]
    decode: Callable[[], Any]
    size: int


@dataclass(frozen=True)
class Result:
    name: str
    size: int
    encode_s: float
    decode_s: float

    @property
    def total_s(self) -> float:
        return self.encode_s + self.decode_s


def best_per_call(funcs: list[Callable[[], Any]], repeat: int, min_time: float) -> list[float]:
    """Seconds per call of each function: best of ``repeat`` timeit runs lasting at least ``min_time``.

    The runs are interleaved (round r of every function, then round r + 1) so that a burst of
    load from other processes does not spoil all of one function's runs.
    """
    timers = [timeit.Timer(func) for func in funcs]
    numbers: list[int] = []
    for timer in timers:
        number = 1
        while timer.timeit(number) < min_time:
            number *= 2
        numbers.append(number)
    best = [float("inf")] * len(timers)
    for _ in range(repeat):
        for i, (timer, number) in enumerate(zip(timers, numbers, strict=True)):
            best[i] = min(best[i], timer.timeit(number) / number)
    return best


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(message)


def build_codecs(topic: str, catalog: SchemaCatalog) -> list[Codec]:
    raw_schema: dict[str, Any] = json.loads((SCHEMAS / f"{topic}.avsc").read_text(encoding="utf-8"))
    event: dict[str, Any] = orjson.loads((SCHEMAS / "examples" / f"{topic}.json").read_bytes())

    # (1) avro package
    avro_schema = avro.schema.parse(json.dumps(raw_schema))
    avro_writer = avro.io.DatumWriter(avro_schema)
    avro_reader = avro.io.DatumReader(avro_schema, avro_schema)

    def avro_encode() -> bytes:
        buffer = io.BytesIO()
        avro_writer.write(event, avro.io.BinaryEncoder(buffer))
        return buffer.getvalue()

    avro_bytes = avro_encode()

    def avro_decode() -> Any:
        return avro_reader.read(avro.io.BinaryDecoder(io.BytesIO(avro_bytes)))

    # (2) fastavro
    parsed = parse_schema(raw_schema)

    def fastavro_encode() -> bytes:
        buffer = io.BytesIO()
        schemaless_writer(buffer, parsed, event)
        return buffer.getvalue()

    fastavro_bytes = fastavro_encode()

    def fastavro_decode() -> Any:
        return schemaless_reader(io.BytesIO(fastavro_bytes), parsed)

    # (2b) fastavro with the catalogue's parsed schema, as Decoder and the pipeline's Avro encoder use it
    topic_schema = catalog.for_topic(topic)
    cat_parsed = topic_schema.parsed

    def catalog_encode() -> bytes:
        buffer = io.BytesIO()
        schemaless_writer(buffer, cat_parsed, event)
        return buffer.getvalue()

    def catalog_decode() -> Any:
        return schemaless_reader(io.BytesIO(fastavro_bytes), cat_parsed, cat_parsed)

    # (3) Lethe's JSON path: orjson + compiled validator
    validate = compile_validator(raw_schema)
    validated = validate(event)

    def json_encode() -> bytes:
        return orjson.dumps(validated)

    json_bytes = json_encode()

    def json_decode() -> Any:
        return validate(orjson.loads(json_bytes))

    # (4) Lethe's Decoder on single-object Avro vs JSON bytes
    decoder = Decoder(topic_schema, catalog.by_fingerprint.get)
    header = SINGLE_OBJECT_MAGIC + topic_schema.fingerprint

    def soe_encode() -> bytes:
        buffer = io.BytesIO()
        buffer.write(header)
        schemaless_writer(buffer, topic_schema.parsed, event)
        return buffer.getvalue()

    soe_bytes = soe_encode()

    def decoder_avro() -> Any:
        return decoder.decode(soe_bytes)

    def decoder_json() -> Any:
        return decoder.decode(json_bytes)

    # every path must give back the sample before it is timed
    check(avro_bytes == fastavro_bytes, f"{topic}: avro and fastavro bodies differ")
    check(soe_bytes[10:] == fastavro_bytes and decoder.encoding_of(soe_bytes) == "avro", f"{topic}: bad header")
    for name, decoded in (
        ("avro", avro_decode()),
        ("fastavro", fastavro_decode()),
        ("fastavro-cat", catalog_decode()),
        ("lethe-json", json_decode()),
        ("Decoder/avro", decoder_avro()),
        ("Decoder/json", decoder_json()),
    ):
        check(decoded == validated, f"{topic}: {name} does not round-trip the sample")

    return [
        Codec("avro", avro_encode, avro_decode, len(avro_bytes)),
        Codec("fastavro", fastavro_encode, fastavro_decode, len(fastavro_bytes)),
        Codec("fastavro-cat", catalog_encode, catalog_decode, len(catalog_encode())),
        Codec("lethe-json", json_encode, json_decode, len(json_bytes)),
        Codec("Decoder/avro", soe_encode, decoder_avro, len(soe_bytes)),
        Codec("Decoder/json", json_encode, decoder_json, len(json_bytes)),
    ]


def us(seconds: float) -> str:
    return f"{seconds * 1e6:8.2f}"


def rate(seconds: float) -> str:
    return f"{1 / seconds:>10,.0f}"


def print_table(topic: str, results: list[Result]) -> None:
    print(f"\n{topic}")
    print(f"{'codec':<13} {'bytes':>5} {'enc µs':>8} {'dec µs':>8} {'e+d µs':>8} {'e+d ev/s':>10} {'dec ev/s':>10}")
    for r in results:
        print(
            f"{r.name:<13} {r.size:>5} {us(r.encode_s)} {us(r.decode_s)} {us(r.total_s)} "
            f"{rate(r.total_s)} {rate(r.decode_s)}"
        )
    by_name = {r.name: r for r in results}
    slow, fast = by_name["avro"], by_name["fastavro"]
    print(
        f"fastavro vs avro (avro time / fastavro time): encode {slow.encode_s / fast.encode_s:.1f}x, "
        f"decode {slow.decode_s / fast.decode_s:.1f}x, encode+decode {slow.total_s / fast.total_s:.1f}x"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="timeit runs per operation; the best is kept")
    parser.add_argument("--min-time", type=float, default=0.2, help="minimum seconds per timeit run")
    args = parser.parse_args(argv)

    catalog = SchemaCatalog.load(SCHEMAS)
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f}; avro {avro.__version__}, fastavro {fastavro.__version__}, "
        f"orjson {orjson.__version__}; best of {args.repeat} runs of >= {args.min_time}s each"
    )
    for topic in TOPICS:
        codecs = build_codecs(topic, catalog)
        funcs = [func for codec in codecs for func in (codec.encode, codec.decode)]
        times = best_per_call(funcs, args.repeat, args.min_time)
        results = [Result(codec.name, codec.size, times[2 * i], times[2 * i + 1]) for i, codec in enumerate(codecs)]
        print_table(topic, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
