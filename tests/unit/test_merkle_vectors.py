"""The Merkle tree and its checker against the published Certificate Transparency vectors.

The leaves and roots are RFC 6962's reference test data as published with the Certificate
Transparency implementations (transparency-dev/merkle `testonly`, google/certificate-transparency):
a tree that disagrees with them would prove nothing to anybody else's tooling.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loanledger.persistence.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_path,
    inclusion_path,
    leaves_of,
    root_of,
    subtree_from_nodes,
)
from loanledger.proof import consistent, leaf_hash, node_hash, root_from_inclusion

DATA = [
    bytes.fromhex(text)
    for text in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (2, 8, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
]  # fmt: skip
LEAVES = leaves_of(DATA)


def _subtree(leaves: list[bytes]):  # type: ignore[no-untyped-def]
    def node(level: int, index: int) -> bytes:
        return root_of(leaves[index << level : (index + 1) << level])

    return subtree_from_nodes(node)


def test_the_roots_of_the_first_n_reference_leaves_are_the_published_roots() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]
    frontier = Frontier()
    assert frontier.root().hex() == ROOTS[0]
    for size, leaf in enumerate(LEAVES, start=1):
        frontier.append(leaf)
        assert frontier.root().hex() == ROOTS[size]
        assert root_of(LEAVES[:size]).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION)
def test_inclusion_paths_are_the_published_ones_and_lead_to_the_root(
    index: int, size: int, expected: list[str]
) -> None:
    path = inclusion_path(index, size, _subtree(LEAVES[:size]))
    assert [node.hex() for node in path] == expected
    assert root_from_inclusion(index, size, LEAVES[index], path) == bytes.fromhex(ROOTS[size])


@pytest.mark.parametrize(("old", "new", "expected"), CONSISTENCY)
def test_consistency_paths_are_the_published_ones_and_check_out(
    old: int, new: int, expected: list[str]
) -> None:
    path = consistency_path(old, new, _subtree(LEAVES[:new]))
    assert [node.hex() for node in path] == expected
    old_root, new_root = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
    assert consistent(old, new, old_root, new_root, path)
    assert not consistent(old, new, new_root if old != new else EMPTY_ROOT, new_root, path)


def test_the_frontier_returns_every_complete_node_it_makes() -> None:
    frontier = Frontier()
    made = [node for leaf in LEAVES[:4] for node in frontier.append(leaf)]
    assert [(level, index) for level, index, _ in made] == [
        (0, 0), (0, 1), (1, 0), (0, 2), (0, 3), (1, 1), (2, 0)
    ]  # fmt: skip
    assert made[-1][2] == node_hash(
        node_hash(LEAVES[0], LEAVES[1]), node_hash(LEAVES[2], LEAVES[3])
    )
    assert Frontier.positions(13) == [(3, 0), (2, 2), (0, 12)]


@given(size=st.integers(1, 70), data=st.data())
def test_every_proof_of_every_shape_checks_and_any_changed_hash_fails(
    size: int, data: st.DataObject
) -> None:
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(size)]
    subtree = _subtree(leaves)
    root = root_of(leaves)
    index = data.draw(st.integers(0, size - 1))
    path = inclusion_path(index, size, subtree)
    assert root_from_inclusion(index, size, leaves[index], path) == root
    old = data.draw(st.integers(0, size))
    proof = consistency_path(old, size, subtree)
    assert consistent(old, size, root_of(leaves[:old]), root, proof)
    if path:
        where = data.draw(st.integers(0, len(path) - 1))
        changed = [*path]
        changed[where] = bytes([changed[where][0] ^ 1]) + changed[where][1:]
        assert root_from_inclusion(index, size, leaves[index], changed) != root
        assert root_from_inclusion(index, size, leaves[index], path[:-1]) != root
    if proof:
        changed = [*proof]
        changed[0] = bytes([changed[0][0] ^ 1]) + changed[0][1:]
        assert not consistent(old, size, root_of(leaves[:old]), root, changed)
