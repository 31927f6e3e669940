"""``lethe policy check``: a policy file checked as a worker's start-up checks it, without a broker.

Three stages, each reporting every problem it finds, one message per entry (a source, output,
partner, retention rule, transfer rule, option or category):

1. the file alone (:func:`processors.policy.load_policy`): TOML, names, values, the sources each
   entry names, and across entries each destination's transfer rules, partners' safeguards and
   consent purposes (those once the entries they rest on are fixed);
2. against the schemas (:func:`processors.sources.check_sources`): each source's paths and
   categories, an output's strategy for every category its source carries, partners' fields and
   keys, transfer origin fields, retention rules' status values;
3. the compile (:func:`processors.pipeline.compile_pipelines`, the worker's own): every output's
   plan (each strategy applies to its fields), transfer routes and derived Avro schema.

A stage runs once the stages before it have no problems; the report says what it did not check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from processors.decode import DEFAULT_LIMITS, Limits
from processors.errors import PolicyError, PolicyProblems, SchemaError
from processors.pipeline import compile_pipelines
from processors.policy import Policy, load_policy
from processors.schemas import SchemaCatalog
from processors.sources import check_sources, fields_for_review

STAGES = (
    "every entry of the file, and across entries the transfer rules of every destination",
    "each source against its schema, and every output, partner, transfer origin and retention rule against its "
    "source's",
    "every output's and partner's plan, transfer routes and derived Avro schema, compiled as a worker does",
)


@dataclass(frozen=True)
class CheckReport:
    path: str
    problems: tuple[str, ...] = ()   # each names its entry; "policy <path>: " is left off
    checked: tuple[str, ...] = ()    # the stages that ran
    not_checked: tuple[str, ...] = ()   # the stages that wait for the problems above to be fixed
    policy: Policy | None = None
    review: dict[str, int] = field(default_factory=dict)   # source -> schema fields marked "review"

    @property
    def ok(self) -> bool:
        return not self.problems


def check_policy(path: Path, schemas_dir: Path, master_key: bytes, limits: Limits = DEFAULT_LIMITS) -> CheckReport:
    """Every stage that can run, every problem of the first stage that has any."""
    try:
        policy = load_policy(path)
    except PolicyError as exc:
        return _failed(str(path), exc, 0)
    try:
        catalog = SchemaCatalog.load(schemas_dir)
        check_sources(policy, catalog)
    except (PolicyError, SchemaError) as exc:
        return _failed(str(path), exc, 1)
    try:
        compile_pipelines(policy, catalog, master_key, limits, encoding="avro")
    except (PolicyError, SchemaError) as exc:
        return _failed(str(path), exc, 2)
    return CheckReport(str(path), checked=STAGES, policy=policy, review=fields_for_review(policy, catalog))


def _failed(path: str, exc: PolicyError | SchemaError, stage: int) -> CheckReport:
    messages = exc.problems if isinstance(exc, PolicyProblems) else (str(exc),)
    prefix = f"policy {path}: "
    return CheckReport(path, tuple(m.removeprefix(prefix) for m in messages), STAGES[:stage + 1], STAGES[stage + 1:])
