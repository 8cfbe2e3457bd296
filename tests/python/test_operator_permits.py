"""Operator permits end to end on anvil: an owner signs `setOperator` offline (`account set-operator --sign-only`),
anyone relays it (`relay`), and every way a permit can be wrong is one explained line that changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from keeper.client.vault import PERMISSIONS, OperatorPermit
from tests.python.conftest import Chain
from tests.python.test_cli import assert_one_line_error, run

OWNER, OPERATOR, RELAYER = 1, 4, 5


def sign(chain: Chain, tmp_path: Path, *args: str) -> Path:
    operator = chain.account(OPERATOR).address
    signed = run(chain, "account", "set-operator", operator, "--sign-only", *args, dev=OWNER)
    assert signed.exit_code == 0, signed.output
    path = tmp_path / "permit.json"
    path.write_text(signed.output)
    return path


def test_a_signed_permit_is_relayed_by_anyone_once(chain: Chain, tmp_path: Path) -> None:
    owner, operator = chain.account(OWNER).address, chain.account(OPERATOR).address
    vault = chain.client(OWNER)
    path = sign(chain, tmp_path, "--permissions", "trade,transfer", "--sub", "2")
    permit = OperatorPermit.from_json(json.loads(path.read_text()))
    assert vault.operator_permissions(permit.account, operator) == 0, "--sign-only sends nothing"
    assert permit.owner == owner and permit.nonce == 0

    relayed = run(chain, "relay", str(path), dev=RELAYER)
    assert relayed.exit_code == 0, relayed.output
    assert f"operator {operator} on {permit.account}: transfer, trade (permit of {owner})" in relayed.output
    assert vault.operator_permissions(permit.account, operator) == PERMISSIONS["trade"] | PERMISSIONS["transfer"]
    assert vault.operator_permit_nonce(owner) == 1

    assert_one_line_error(
        run(chain, "relay", str(path), dev=RELAYER), f"the permit's nonce 0 is not {owner}'s next (1)"
    )


def test_a_changed_or_expired_permit_is_refused(chain: Chain, tmp_path: Path) -> None:
    owner, operator = chain.account(OWNER).address, chain.account(OPERATOR).address
    vault = chain.client(OWNER)
    path = sign(chain, tmp_path, "--permissions", "trade", "--ttl", "60")
    data = json.loads(path.read_text())
    widened = tmp_path / "widened.json"
    widened.write_text(json.dumps({**data, "permissions": str(PERMISSIONS["withdraw"])}))
    assert_one_line_error(
        run(chain, "relay", str(widened), dev=RELAYER), f"the signature is not {owner}'s: the permit was changed"
    )

    chain.advance(61)
    assert_one_line_error(run(chain, "relay", str(path), dev=RELAYER), "the permit's deadline (unix time")
    assert vault.operator_permissions(owner, operator) == 0


def test_a_file_of_another_kind_is_one_line(chain: Chain, tmp_path: Path) -> None:
    path = tmp_path / "permit.json"
    path.write_text(json.dumps({"kind": "primevault-operator-permit", "owner": "0x12", "signature": "0x00"}))
    assert_one_line_error(run(chain, "relay", str(path), dev=RELAYER), "is not a signed order or operator permit")
