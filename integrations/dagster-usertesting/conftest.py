"""The integration's fixtures, when its tests run alone (`pytest` in this folder) or with ut-dagster's."""

pytest_plugins = ["dagster_usertesting_tests.fixtures"]
