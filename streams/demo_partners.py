"""The partners' store agents of ``lethe demo``: one per partner of the policy, each on its own demo
database, reading the partner's commands topic (``partners.<name>.commands.v1``) and acking under
the partner's store name, so that an erasure or rectification of a subject a partner received
completes in the demo as it would with the partner's real agent (docs/sharing.md).

A demo partner keeps no copy of what it received (its table stays empty): its agent acks
``not_found``. A real partner maps the tables where it keeps the shared records.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from processors.policy import load_policy
from streams.broker import _die_with_parent, free_port
from streams.settings import Settings


def demo_partner_mapping(data_dir: Path, name: str, store: str, source: str, family: str) -> Path:
    """A mapping of one table, ``received_<family>``, created empty in the partner's demo database."""
    from sqlalchemy import Column, MetaData, String, Table, create_engine

    table = f"received_{family}".replace("-", "_").replace(".", "_")
    engine = create_engine(partner_store_url(data_dir, name))
    Table(table, MetaData(), Column("record_key", String, primary_key=True), Column("subject_ref", String),
          Column("note", String)).metadata.create_all(engine)
    engine.dispose()
    path = data_dir / f"demo-partner-{name}-mapping.toml"
    path.write_text(f'store = "{store}"\n\n[tables.{table}]\nsource = "{source}"\nsubject_column = "subject_ref"\n'
                    f'key_column = "record_key"\n\n[tables.{table}.columns]\nnote = "free_text"\n')
    return path


def partner_store_url(data_dir: Path, name: str) -> str:
    return f"sqlite:///{(data_dir / f'demo-partner-{name}.db').resolve()}"


def start_partner_agents(settings: Settings, env: dict[str, str]) -> list[tuple[str, subprocess.Popen[bytes]]]:
    """Start a store agent per partner of the policy; return (partner, process) pairs."""
    policy = load_policy(settings.policy_path)
    started = []
    for name, partner in policy.partners.items():
        family = policy.sources[partner.source].family
        mapping = demo_partner_mapping(settings.data_dir, name, partner.store, partner.source, family)
        with open(settings.data_dir / f"demo-partner-{name}.log", "wb") as log_file:
            started.append((name, subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "store-agent", "--commands-topic", partner.commands_topic,
                 "--name", partner.store, "--mapping", str(mapping)],
                env={**env, "LETHE_STORE_URL": partner_store_url(settings.data_dir, name),
                     "LETHE_METRICS_PORT": str(free_port())},
                stdout=log_file, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)))
    return started
