"""The arena planner: no two tensors alive at once share bytes, and reuse actually happens."""

from hypothesis import given, settings
from hypothesis import strategies as st

from emberlite.interpreter.planner import ARENA_ALIGNMENT, Allocation, plan_arena


def overlaps(a, b, offsets):
    live = not (a.last < b.first or b.last < a.first)
    oa, ob = offsets[a.key], offsets[b.key]
    return live and oa < ob + b.size and ob < oa + a.size


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 5000), st.integers(0, 30), st.integers(0, 10)),
        min_size=1,
        max_size=40,
    )
)
def test_live_tensors_never_share_memory(specs):
    allocations = [
        Allocation(i, size, first, first + length) for i, (size, first, length) in enumerate(specs)
    ]
    offsets, arena = plan_arena(allocations)
    assert all(off % ARENA_ALIGNMENT == 0 for off in offsets.values())
    assert all(offsets[a.key] + a.size <= arena for a in allocations)
    for i, a in enumerate(allocations):
        for b in allocations[i + 1 :]:
            assert not overlaps(a, b, offsets), (a, b, offsets)
    assert arena <= sum((a.size + 63) // 64 * 64 for a in allocations)


def test_a_chain_reuses_memory():
    # x0 -> x1 -> x2 -> x3: each tensor lives two steps, so two slots suffice.
    chain = [Allocation(i, 1024, max(i - 1, 0), i) for i in range(4)]
    _, arena = plan_arena(chain)
    assert arena == 2 * 1024


def test_largest_first_fills_gaps():
    allocations = [
        Allocation(0, 4096, 0, 1),
        Allocation(1, 1024, 2, 3),  # fits where tensor 0 was
        Allocation(2, 2048, 1, 3),
    ]
    offsets, arena = plan_arena(allocations)
    assert offsets[1] == 0 and arena == 4096 + 2048
