"""Commands started together on a fresh DAGSTER_HOME must not trip over each other."""

import multiprocessing

ID = "aaaaaaaa-0000-4000-8000-{:012d}"


def _start_together(barrier, data_dir: str, n: int, results) -> None:
    try:
        from dagster_usertesting.defs.partitions import add_tests
        from ut_dagster.cli.instance import dagster_instance
        from ut_dagster.environment import Settings

        settings = Settings.from_env({"UT_DATA_DIR": data_dir})
        barrier.wait()
        instance = dagster_instance(settings)
        add_tests(instance, [ID.format(n)])
        results.put((n, "ok"))
    except BaseException as exc:
        results.put((n, f"{type(exc).__name__}: {exc}"))


def test_commands_started_at_the_same_moment_on_a_fresh_home_all_succeed(tmp_path):
    spawn = multiprocessing.get_context("spawn")
    processes = 3
    barrier, results = spawn.Barrier(processes), spawn.Queue()
    workers = [
        spawn.Process(target=_start_together, args=(barrier, str(tmp_path / "data"), n, results))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    outcomes = dict(results.get(timeout=240) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    assert outcomes == {n: "ok" for n in range(processes)}

    from dagster import DagsterInstance

    from dagster_usertesting.defs.partitions import test_partitions

    with DagsterInstance.from_config(str(tmp_path / "data" / "dagster_home")) as instance:
        assert set(instance.get_dynamic_partitions(test_partitions.name)) == {
            ID.format(n) for n in range(processes)
        }
