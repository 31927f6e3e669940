"""The batch-shaped path of one input topic: raw values in, anonymized outputs and dead letters out.

Kafka-free by design: ``streams/`` hands :meth:`TopicPipeline.process` the values of a batch,
their partitions and one :class:`SubjectView` of the per-subject state (secrets, gates), and gets
back everything the batch causes: outputs, dead letters, new subject secrets and retention
deadlines to persist, counts for metrics. One call in, one result out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from processors.decode import DEFAULT_LIMITS, Decoder, Limits, Registry
from processors.errors import InvalidRecord, Problems, SchemaError
from processors.minors import QUARANTINED, MinorsRule
from processors.outputs import avro_encoder, inplace_output, transfer_routes
from processors.partners import project
from processors.plan import Plan, compile_plan, get_path
from processors.policy import Policy
from processors.pseudonym import anonymous_key, derive_subject_key, new_subject_secret, partner_reference, pseudonym
from processors.retention import RetentionPlan, Timer
from processors.schemas import SchemaCatalog
from processors.sharing import Share, categories_of
from processors.sources import check_sources
from processors.unknown import Unknown, UnknownFields

ENCODINGS = ("json", "avro")


@dataclass
class Output:
    topic: str
    index: int             # position of the source record in the batch
    key: bytes | None
    value: bytes


@dataclass
class BatchResult:
    outputs: list[Output] = field(default_factory=list)
    dead: list[tuple[int, InvalidRecord]] = field(default_factory=list)
    tagged: Counter[str] = field(default_factory=Counter)
    # (output, reason, subject or None) -> records held back from that output
    gated: Counter[tuple[str, str, str | None]] = field(default_factory=Counter)
    new_secrets: list[tuple[int, str, bytes]] = field(default_factory=list)   # (partition, subject, secret)
    timers: list[tuple[int, Timer]] = field(default_factory=list)   # retention deadlines the batch sets
    unscheduled: int = 0   # valid records whose deadline could not be computed
    # (output, origin, destination, decision) -> records that met that transfer decision
    transfers: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    # (output, origin, destination, decision, subject) -> a subject's records a transfer rule blocked or
    # pseudonymized
    transfer_held: Counter[tuple[str, str, str, str, str | None]] = field(default_factory=Counter)
    # (partition, share): records published to partners, for the sharing ledger (processors/sharing.py)
    shares: list[tuple[int, Share]] = field(default_factory=list)
    # (partition, subject): subjects found under age (processors/minors.py), for a minor_flag request each
    minors: list[tuple[int, str]] = field(default_factory=list)
    unknown: Unknown = field(default_factory=Unknown)   # fields the schema does not declare

    def merge(self, other: BatchResult, index: int) -> None:
        """Add the result of a one-record batch whose record is at ``index`` of this batch."""
        for out in other.outputs:
            out.index = index
            self.outputs.append(out)
        self.dead += [(index, err) for _, err in other.dead]
        self.tagged.update(other.tagged)
        self.gated.update(other.gated)
        self.unknown.counts.update(other.unknown.counts)
        for path, categories in other.unknown.personal.items():
            self.unknown.personal.setdefault(path, set()).update(categories)
        self.new_secrets += other.new_secrets
        self.timers += other.timers
        self.unscheduled += other.unscheduled
        self.transfers.update(other.transfers)
        self.transfer_held.update(other.transfer_held)
        self.shares += other.shares
        self.minors += other.minors


class SubjectView(Protocol):
    """The per-subject state a batch needs, read-only; handed in once per batch by ``streams/``."""

    def secret(self, subject: str, partition: int) -> bytes | None:
        """The subject's secret, or None if it has none yet (the pipeline then makes one)."""

    def gates(self, subject: str | None, partition: int, session: str | None = None) -> Mapping[str, str] | None:
        """Outputs (topic, or "*" for all) the records of the subject (None: anonymous) in the session
        (None: none declared or given) must not reach now, and why."""


@dataclass
class Decoded:
    records: list[tuple[int, dict[str, Any]]]
    dead: list[tuple[int, InvalidRecord]]
    subjects: dict[str, int]   # subject -> batch index of its first record
    # (subject, session), either None -> batch index of its first record: what a record's gates depend on
    gated_by: dict[tuple[str | None, str | None], int] = field(default_factory=dict)
    unknown: Unknown = field(default_factory=Unknown)


class TopicPipeline:
    def __init__(
        self,
        catalog: SchemaCatalog,
        policy: Policy,
        source: str,
        master_key: bytes,
        limits: Limits = DEFAULT_LIMITS,
        encoding: str = "json",
        retention: RetentionPlan | None = None,
        registry: Registry | None = None,
    ) -> None:
        if encoding not in ENCODINGS:
            raise SchemaError(f"output encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}")
        declared = policy.sources.get(source)
        if declared is None:
            raise SchemaError(f"{source} is not a source the policy declares ({', '.join(policy.sources)})")
        self.source = source
        self.family = declared.family
        self.retention = retention if retention is not None and retention.has_rules(source) else None
        schema = catalog.for_topic(declared.schema_name)
        self.decoder = Decoder(schema, catalog.by_fingerprint.get, limits, registry)
        self.unknown_fields = UnknownFields()
        outputs = policy.outputs_for(source)
        problems = Problems()   # every output's problem at once
        plans = [problems.run(compile_plan, schema.raw, out, policy) for out in outputs]
        problems.check()
        self.plans: list[Plan] = [plan for plan in plans if plan is not None]
        self.routes = transfer_routes(schema.raw, outputs, self.plans, policy, source)
        self.transfers = transfers = policy.transfers
        self.origin_path = transfers.origin.get(source) if transfers is not None else None
        self.default_origin = transfers.default_origin if transfers is not None else ""
        self._origins = transfers.country_regions if transfers is not None else {}
        self.destinations = [out.region or "" for out in outputs]
        encoders = [orjson.dumps if encoding == "json"
                    else problems.run(avro_encoder, catalog.output, out, schema) for out in outputs]
        problems.check()
        self.encoders: list[Callable[[dict[str, Any]], bytes]] = [e for e in encoders if e is not None]
        # partners (processors/partners.py): keyed as the partner needs
        self.key_paths = [out.key for out in outputs]
        # the raw key fields, each with the outputs keyed by it (read once per record, however many)
        keyed: dict[tuple[str, ...], list[int]] = {}
        for n, path in enumerate(self.key_paths):
            if path is not None:
                keyed.setdefault(path, []).append(n)
        self._keyed = list(keyed.items())
        self.policy_version = policy.version
        # the partner each output is (None: not a partner), for the sharing ledger
        self.partners = [out.partner for out in outputs]
        self._master = master_key
        self._anonymous = anonymous_key(master_key)
        self._derived: dict[bytes, bytes] = {}
        self._references: dict[tuple[str, str], str] = {}
        self._shared: dict[tuple[str, ...], frozenset[str]] = {}   # tag values -> categories_of(tags)
        first = self.plans[0] if self.plans else None
        self.subject_path = declared.subject if self.plans else None
        self.session_path = declared.session if self.plans else None
        self.fallback_key_path = first.fallback_key_path if first else None
        # blake2b's person is at most 16 bytes, as in the pseudonym strategy
        self._fallback_domain = self.fallback_key_path[-1].encode()[:16] if self.fallback_key_path else b""
        # per output, what the record loop reads: (n, plan, encode, partner, whether it keys by a raw field)
        self._outputs = [(n, plan, encode, partner, path is not None) for n, (plan, encode, partner, path)
                         in enumerate(zip(self.plans, self.encoders, self.partners, self.key_paths, strict=True))]
        # the output that rewrites a record in place once the partner projections after it are made
        self._inplace = inplace_output(self.plans, self.routes)
        self._projected_after = ([(k, plan.projection) for k, plan in enumerate(self.plans) if k > self._inplace]
                                 if self._inplace is not None else [])
        self.minors = (MinorsRule(declared.date_of_birth, declared.event_time, declared.subject, policy.minors.age)
                       if declared.date_of_birth and declared.subject and self.plans else None)

    def decode(self, values: Sequence[bytes | None]) -> Decoded:
        records: list[tuple[int, dict[str, Any]]] = []
        dead: list[tuple[int, InvalidRecord]] = []
        subjects: dict[str, int] = {}
        gated_by: dict[tuple[str | None, str | None], int] = {}
        decode, subject_path, session_path = self.decoder.decode, self.subject_path, self.session_path
        fields, unknown = self.decoder.unknown, Unknown()
        subject_name, session_name = _flat(subject_path), _flat(session_path)   # read without get_path
        for i, raw in enumerate(values):
            try:
                record = decode(raw)
            except InvalidRecord as exc:
                dead.append((i, exc))
                continue
            except RecursionError:
                dead.append((i, InvalidRecord("max_depth", "record nested too deeply")))
                continue
            records.append((i, record))
            if fields:
                self.unknown_fields.observe(fields, unknown)
            subject = (record.get(subject_name) if subject_name is not None
                       else get_path(record, subject_path) if subject_path is not None else None)
            if subject is not None and subject not in subjects:
                subjects[subject] = i
            session = (record.get(session_name) if session_name is not None
                       else get_path(record, session_path) if session_path is not None else None)
            gated_by.setdefault((subject, session), i)
        return Decoded(records, dead, subjects, gated_by, unknown)

    def process(self, values: Sequence[bytes | None], partitions: Sequence[int], state: SubjectView) -> BatchResult:
        """The whole path of a batch: decode, secrets, deadlines, gates, anonymize, encode.

        ``partitions[i]`` is the input partition of ``values[i]``: a subject's new secret and a
        record's deadlines belong to the partition its record came from.
        """
        decoded = self.decode(values)
        secrets: dict[str, bytes] = {}
        new_secrets: list[tuple[int, str, bytes]] = []
        for subject, first in decoded.subjects.items():
            partition = partitions[first]
            secret = state.secret(subject, partition)
            if secret is None:
                secret = new_subject_secret()
                new_secrets.append((partition, subject, secret))
            secrets[subject] = secret
        gates: dict[tuple[str | None, str | None], Mapping[str, str]] = {}
        for pair, first in decoded.gated_by.items():
            gate = state.gates(pair[0], partitions[first], pair[1])
            if gate:
                gates[pair] = gate
        minors: list[tuple[int, str]] = []
        if self.minors is not None:
            minors = self.minors.find(decoded.records, {pair[0]: gate for pair, gate in gates.items()
                                                        if pair[0] is not None})
            found = {subject for _, subject in minors}
            for pair in decoded.gated_by:   # its records of this batch already reach no output
                if pair[0] in found:
                    gates[pair] = QUARANTINED
        timers: list[tuple[int, Timer]] = []
        unscheduled = 0
        if self.retention is not None:   # before anonymize, which rewrites the records in place
            timers_for, source = self.retention.timers_for, self.source
            for index, record in decoded.records:
                try:
                    timers += [(partitions[index], timer) for timer in timers_for(source, record)]
                except ValueError:   # validated records carry RFC 3339 times; count any that slip by
                    unscheduled += 1
        result = self.anonymize(decoded, secrets, gates)
        result.new_secrets, result.timers, result.unscheduled = new_secrets, timers, unscheduled
        result.shares = [(partitions[index], share) for index, share in result.shares]
        result.minors = [(partitions[index], subject) for index, subject in minors]
        return result

    def anonymize(self, decoded: Decoded, secrets: Mapping[str, bytes],
                  blocked: Mapping[tuple[str | None, str | None], Mapping[str, str]] | None = None) -> BatchResult:
        """Tag and anonymize every decoded record for every output of this source.

        ``secrets`` must hold a secret for every subject in ``decoded.subjects``. ``blocked`` maps
        a (subject, session) pair of ``decoded.gated_by`` to the outputs its records must not reach
        (output topic, or "*" for all) and the reason (consent, restrict, object, quarantine); such
        records are counted in ``gated``.
        """
        result = BatchResult(dead=list(decoded.dead), unknown=decoded.unknown)
        counts: list[str] = []   # the category of every tagged value of the first output, counted at the end
        last = len(self.plans) - 1
        routes, origin_path, origins, origin = self.routes, self.origin_path, self._origins, self.default_origin
        reached: dict[tuple[int, str], int] = {}
        destinations = self.destinations
        held = result.transfer_held
        subject_path, fallback_path, keyed = self.subject_path, self.fallback_key_path, self._keyed
        outputs, version = self._outputs, self.policy_version
        add_output, add_share = result.outputs.append, result.shares.append
        subject_name = _flat(subject_path)   # a flat subject field (the usual case) is read without get_path
        references, shared = self._references, self._shared
        inplace, projected_after = self._inplace, self._projected_after
        for index, record in decoded.records:
            early: dict[int, dict[str, Any]] | None = None   # partner projections made before ``inplace`` ran
            if origin_path is not None:
                value = get_path(record, origin_path)
                origin = (origins.get(value) or origins.get(value.strip().upper()) or self.default_origin
                          if type(value) is str else self.default_origin)
            subject = (record.get(subject_name) if subject_name is not None
                       else get_path(record, subject_path) if subject_path else None)
            named: tuple[str, str] | None = None   # (subject, its pseudonym)
            if subject is not None:
                subject_key = self._subject_key(secrets[subject])
                subject_pseudonym = pseudonym(subject_key, b"subject", subject)
                named = (subject, subject_pseudonym)   # the plans' subject field takes this pseudonym as it is
                key: str | None = subject_pseudonym
            else:
                subject_key = self._anonymous
                fallback = get_path(record, fallback_path) if fallback_path else None
                key = pseudonym(subject_key, self._fallback_domain, fallback) if fallback is not None else None
            key_bytes = key.encode() if key is not None else None
            if blocked:
                session = get_path(record, self.session_path) if self.session_path else None
                gates = blocked.get((subject, session))
            else:
                gates = None
            # a raw key is read before any output rewrites the record in place
            raw_keys: dict[int, bytes | None] | None = None
            if keyed:
                raw_keys = {}
                for path, keyed_by in keyed:
                    raw_key = _raw_key(record, path)
                    for n in keyed_by:
                        raw_keys[n] = raw_key
            for n, own, encode, partner, raw in outputs:
                if gates:
                    reason = gates.get(own.output) or gates.get("*")
                    if reason:
                        result.gated[(own.output, reason, subject)] += 1
                        continue
                plan = own
                if routes is not None:
                    reached[(n, origin)] = reached.get((n, origin), 0) + 1
                    route = routes[n][origin]
                    if route is not own:   # a transfer the policy blocks (None) or pseudonymizes
                        held[(own.output, origin, destinations[n], "block" if route is None else "pseudonymize",
                              subject)] += 1
                        if route is None:
                            continue
                        plan = route
                if n == inplace:   # the outputs after it read only their projections: made now, no copy
                    early = {k: project(record, tree) for k, tree in projected_after if tree is not None}
                    target, tags = plan.publish(record, subject_key, counts if n == 0 else None, False, named)
                else:
                    target, tags = plan.publish(record, subject_key, counts if n == 0 else None, n != last, named,
                                                early.get(n) if early is not None else None)
                if partner is None:
                    target["lethe"] = {"policy": version, "tags": tags}
                else:   # a partner's records name the subject by its reference there, never by its id
                    reference = (references.get((partner, subject)) or self.reference(partner, subject)
                                 if subject is not None else None)
                    target["lethe"] = {"policy": version, "tags": tags, "subject": reference}
                # a raw key only on the partner's own plan: a pseudonymized transfer gets the pseudonym
                out_key = raw_keys[n] if raw_keys is not None and raw and plan is own else key_bytes
                add_output(Output(plan.output, index, out_key, encode(target)))
                if partner is not None and subject is not None:
                    categories = shared.get(tuple(tags.values())) or self._categories(tags)
                    add_share((index, Share(subject, partner, categories)))
        result.tagged.update(counts)
        if routes is not None:
            for (n, source_region), count in reached.items():
                route, output = routes[n][source_region], self.plans[n].output
                decision = "allow" if route is self.plans[n] else "block" if route is None else "pseudonymize"
                result.transfers[(output, source_region, self.destinations[n], decision)] += count
        return result

    def reference(self, partner: str, subject: str) -> str:
        """The subject's reference at a partner (cached: a subject's records recur)."""
        found = self._references.get((partner, subject))
        if found is None:
            if len(self._references) > 200_000:
                self._references.clear()
            found = self._references[(partner, subject)] = partner_reference(self._master, partner, subject)
        return found

    def forget(self, secret: bytes) -> None:
        """Drop the derived key of a destroyed or handed-over secret from the cache."""
        self._derived.pop(secret, None)

    def _categories(self, tags: dict[str, str]) -> frozenset[str]:
        """``categories_of(tags)``, cached: a partner's records carry the same few tag sets."""
        key = tuple(tags.values())
        categories = self._shared.get(key)
        if categories is None:
            if len(self._shared) > 4096:
                self._shared.clear()
            categories = self._shared[key] = categories_of(tags)
        return categories

    def _subject_key(self, secret: bytes) -> bytes:
        derived = self._derived.get(secret)
        if derived is None:
            if len(self._derived) > 200_000:
                self._derived.clear()
            derived = self._derived[secret] = derive_subject_key(self._master, secret)
        return derived


def compile_pipelines(policy: Policy, catalog: SchemaCatalog, master_key: bytes, limits: Limits = DEFAULT_LIMITS,
                      encoding: str = "json", registry: Registry | None = None) -> dict[str, TopicPipeline]:
    """What a worker compiles at start-up, all configuration errors surfacing here: every source
    checked against its schema (processors/sources.py), then per source its decoder, every output's
    plan and transfer routes, and with ``encoding="avro"`` every output's derived schema. Every
    problem of a stage is raised at once; the plans are compiled once the sources check out."""
    check_sources(policy, catalog)
    retention = RetentionPlan(policy.retention, policy.sources)
    problems = Problems()
    pipelines = {source: problems.run(TopicPipeline, catalog, policy, source, master_key, limits, encoding,
                                      retention, registry) for source in policy.sources}
    problems.check()
    return {source: pipeline for source, pipeline in pipelines.items() if pipeline is not None}


def _flat(path: tuple[str, ...] | None) -> str | None:
    """The field name of a one-segment path, else None."""
    return path[0] if path is not None and len(path) == 1 else None


def _raw_key(record: dict[str, Any], path: tuple[str, ...] | None) -> bytes | None:
    value = (record.get(path[0]) if len(path) == 1 else get_path(record, path)) if path is not None else None
    return value.encode() if isinstance(value, str) else None
