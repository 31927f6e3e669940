"""What :class:`processors.pipeline.TopicPipeline` compiles per output at start-up, besides its plan:
the transfer routes, the Avro encoder, and which output may rewrite a record in place."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

from fastavro import schemaless_writer

from processors.decode import SINGLE_OBJECT_MAGIC
from processors.partners import Tree
from processors.plan import Plan, compile_pseudonymized
from processors.policy import OutputPolicy, Policy
from processors.schemas import TopicSchema


def transfer_routes(schema: dict[str, Any], outputs: Sequence[OutputPolicy], plans: Sequence[Plan], policy: Policy,
                     source: str) -> list[dict[str, Plan | None]] | None:
    """Per output, per origin region its source's records can have: the plan a record of that origin
    takes (the output's own when allowed, a pseudonymizing one, or None when blocked); compiled once,
    so that a record's transfer decision is one lookup. None when the policy has no [transfers]."""
    transfers = policy.transfers
    if transfers is None:
        return None
    routes: list[dict[str, Plan | None]] = []
    for out, plan in zip(outputs, plans, strict=True):
        route: dict[str, Plan | None] = {}
        pseudonymized: Plan | None = None
        for origin in transfers.origins_of(source):
            decision, _safeguard = transfers.decide(origin, out.region or origin)
            if decision == "pseudonymize" and pseudonymized is None:
                pseudonymized = compile_pseudonymized(schema, out, policy)
            route[origin] = plan if decision == "allow" else pseudonymized if decision == "pseudonymize" else None
        routes.append(route)
    return routes


def avro_encoder(derive: Callable[..., TopicSchema], out: OutputPolicy,
                  source: TopicSchema) -> Callable[[dict[str, Any]], bytes]:
    """The encoder of an output's records, in its schema derived from its source's."""
    schema = derive(out.topic, source, out.projection, out.partner)
    header = SINGLE_OBJECT_MAGIC + schema.fingerprint
    parsed = schema.parsed

    def encode(record: dict[str, Any]) -> bytes:
        buffer = io.BytesIO()
        buffer.write(header)
        schemaless_writer(buffer, parsed, record)
        return buffer.getvalue()
    return encode


def inplace_output(plans: Sequence[Plan], routes: Sequence[dict[str, Plan | None]] | None) -> int | None:
    """The output that may rewrite a record in place although it is not the last: the last one that is
    not a partner's, when every output after it is a partner's whose plans (own and routed) read only
    their projection of the record. Those projections are then made before it runs (a copy of what
    they publish, which they make anyway), so it needs no copy of the record. None when there is none."""
    last = len(plans) - 1
    inplace = next((n for n in range(last - 1, -1, -1) if plans[n].projection is None), None)
    if inplace is None:
        return None
    written = [op.info.path for plan in _with_routes(plans, routes, inplace) for op in plan.ops
               if op.strategy != "keep" or op.found_inside]
    for k in range(inplace + 1, last + 1):
        for plan in _with_routes(plans, routes, k):
            if plan.projection is None or plan.reads_source:
                return None
            # a projection shares the values it declares; none may hold a field the in-place output writes
            if any(path[: len(leaf)] == leaf and len(path) > len(leaf) for leaf in _leaves(plan.projection)
                   for path in written):
                return None
    return inplace


def _with_routes(plans: Sequence[Plan], routes: Sequence[dict[str, Plan | None]] | None, n: int) -> list[Plan]:
    """Output ``n``'s own plan and the plans its transfer routes take."""
    routed = routes[n].values() if routes is not None else ()
    return [plans[n], *(plan for plan in routed if plan is not None and plan is not plans[n])]


def _leaves(tree: Tree, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for name, sub in tree.items():
        out += [(*prefix, name)] if sub is None else _leaves(sub, (*prefix, name))
    return out
