"""The compaction policy: which objects a run rewrites, and when (pure decisions)."""

from __future__ import annotations

from dataclasses import replace

from lake_compactor.policy import (
    DAY_TIER,
    HOUR_TIER,
    PROCESSOR_MAX_RECORD_AGE_S,
    Policy,
    StoredObject,
    day_end,
    output_prefix,
    partition_of,
    plan_partition,
    run_id,
    tier_of,
)

DAY = "2026-11-27"
END = day_end(DAY)  # 2026-11-28T00:00:00Z
POLICY = Policy()
PREFIX = "events/"


def obj(name: str, modified: float, size: int = 1000, day: str = DAY) -> StoredObject:
    return StoredObject(f"{PREFIX}event_date={day}/{name}", size, modified)


def raw(n: int, modified: float) -> StoredObject:
    return obj(f"ownstats-events-1-{DAY}-00-{n:02d}-00-uuid{n}", modified)


def output(tier: str, run: str, part: int = 0, modified: float = END) -> StoredObject:
    return StoredObject(f"{output_prefix(PREFIX, DAY, tier, run)}{part:03d}.parquet", 10, modified)


RUN_A = run_id(END + 3600, "aaaaaaaa0000")
RUN_B = run_id(END + 7200, "bbbbbbbb0000")


def test_day_end_is_the_next_utc_midnight() -> None:
    assert END - day_end("2026-11-26") == 86_400
    assert END == 1_795_824_000  # 2026-11-28T00:00:00Z


def test_partition_of_accepts_only_data_objects_of_a_day() -> None:
    assert partition_of(f"{PREFIX}event_date=2026-11-27/x.parquet", PREFIX) == "2026-11-27"
    assert partition_of(f"{PREFIX}event_date=2026-11-27/no-extension", PREFIX) == "2026-11-27"
    for key in (
        f"{PREFIX}_compaction/20261128T000000Z-aaaaaaaa.json",  # manifests
        f"{PREFIX}event_date=2026-11-27/.x.tmp",  # being written (local lake)
        f"{PREFIX}event_date=2026-11-27/_SUCCESS",  # hidden for Athena
        f"{PREFIX}event_date=2026-11-27/sub/x.parquet",
        f"{PREFIX}event_date=27-11-2026/x.parquet",
        "errors/format-conversion-failed/2026-11-27/x",
    ):
        assert partition_of(key, PREFIX) is None, key


def test_outputs_are_named_by_tier_and_run_and_never_hidden() -> None:
    assert RUN_A == "20261128T010000Z-aaaaaaaa"
    hour = output(HOUR_TIER, RUN_A)
    assert hour.name == "compacted-hour-20261128T010000Z-aaaaaaaa-000.parquet"
    assert (tier_of(hour), tier_of(output(DAY_TIER, RUN_A)), tier_of(raw(1, 0))) == (
        HOUR_TIER, DAY_TIER, None,
    )  # fmt: skip
    assert not hour.name.startswith(("_", "."))  # Athena skips such files


# -- an open day: hourly merges of the raw files ----------------------------------------


def test_open_day_merges_the_raw_files_old_enough() -> None:
    now = END - 3600  # 23:00 of the day
    old = [raw(n, now - 3000 + n) for n in range(5)]
    young = raw(9, now - POLICY.min_age_s + 1)  # Firehose may still be delivering around it
    plan = plan_partition(DAY, [*old, young, output(HOUR_TIER, RUN_A)], now=now, policy=POLICY)
    assert plan is not None and plan.tier == HOUR_TIER
    assert plan.inputs == tuple(old)  # neither the young file nor the earlier hour's output


def test_open_day_needs_two_raw_files_and_skips_busy_ones() -> None:
    now = END - 3600
    files = [raw(1, now - 3000), raw(2, now - 3000)]
    assert plan_partition(DAY, files[:1], now=now, policy=POLICY) is None
    busy = {files[0].key}  # the input of a compaction whose deletion is pending
    assert plan_partition(DAY, files, now=now, policy=POLICY, busy=busy) is None


def test_open_day_merges_its_outputs_once_they_pile_up() -> None:
    """A writer that triggers runs often (local mode) makes one hour-tier file per run:
    at ``max_open_outputs`` they are merged into one, with the raw files beside them."""
    now = END - 3600
    policy = replace(POLICY, max_open_outputs=3)
    outputs = [
        output(HOUR_TIER, f"20261127T0{n}0000Z-aaaaaaaa", modified=now - 3000) for n in range(3)
    ]
    young = raw(9, now - 1)
    assert plan_partition(DAY, outputs[:2], now=now, policy=policy) is None
    plan = plan_partition(DAY, [*outputs, raw(1, now - 3000), young], now=now, policy=policy)
    assert plan is not None and plan.tier == HOUR_TIER
    assert young not in plan.inputs and set(outputs) < set(plan.inputs)
    assert len(plan.inputs) == 4
    assert POLICY.max_open_outputs > 24 + 8  # hourly runs on AWS never reach it
    # size-tiered: with one more, the largest output waits for others to grow
    big = StoredObject(outputs[0].key.replace("aaaaaaaa-000", "bbbbbbbb-000"), 10**9, now - 3000)
    plan = plan_partition(DAY, [big, *outputs], now=now, policy=policy)
    assert plan is not None and big not in plan.inputs and set(plan.inputs) == set(outputs)


def test_the_day_stays_open_until_close_after_s() -> None:
    files = [raw(1, END - 100), raw(2, END - 50)]
    just_open = END + POLICY.close_after_s - 1
    assert plan_partition(DAY, files, now=just_open, policy=POLICY).tier == HOUR_TIER
    closed = END + POLICY.close_after_s
    assert plan_partition(DAY, files, now=closed, policy=POLICY).tier == DAY_TIER


# -- a closed day: one run's files, sorted as a whole -----------------------------------


def test_closed_day_merges_everything_into_day_files() -> None:
    now = END + POLICY.close_after_s + 60
    files = [output(HOUR_TIER, RUN_A), output(HOUR_TIER, RUN_B), raw(7, END + 600)]
    plan = plan_partition(DAY, files, now=now, policy=POLICY)
    assert plan is not None and plan.tier == DAY_TIER
    assert set(plan.inputs) == set(files)


def test_closed_day_of_one_run_is_left_alone_whatever_its_file_count() -> None:
    now = END + 30 * 86_400
    one_run = [output(DAY_TIER, RUN_A, part) for part in range(3)]  # a big day, cut in 3
    assert plan_partition(DAY, one_run, now=now, policy=POLICY) is None


def test_a_late_file_or_a_second_run_reopens_a_closed_day() -> None:
    now = END + 30 * 86_400
    done = output(DAY_TIER, RUN_A)
    late = raw(1, now - 3600)
    plan = plan_partition(DAY, [done, late], now=now, policy=POLICY)
    assert plan is not None and set(plan.inputs) == {done, late}
    # the outputs of two runs (a run that died before its manifest was settled, or two
    # overlapping runs) hold the same events: one sorted file again
    twice = [done, output(DAY_TIER, RUN_B)]
    assert plan_partition(DAY, twice, now=now, policy=POLICY).inputs == tuple(twice)
    # but not while the late file is too young, nor while it is busy
    young = raw(2, now - 10)
    assert plan_partition(DAY, [done, young], now=now, policy=POLICY) is None
    assert plan_partition(DAY, [done, late], now=now, policy=POLICY, busy={late.key}) is None


def test_policy_defaults_leave_room_for_athena_lambda_and_retries() -> None:
    # the grace covers Athena's 30-minute default query timeout; an intent is stale only
    # after the Lambda's 15-minute timeout; a day closes after the processor's retries
    assert POLICY.delete_grace_s >= 1800
    assert POLICY.stale_intent_s > 900
    assert POLICY.close_after_s > PROCESSOR_MAX_RECORD_AGE_S
    assert POLICY.min_age_s >= 90  # Firehose's 60 s buffer, up to 1.5x with partitioning
