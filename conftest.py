"""The fixtures of the whole workspace are dagster-usertesting's (sandbox, resources, S3 server, live
instance), shared by ut_dagster_tests and the integration's own tests."""

pytest_plugins = ["dagster_usertesting_tests.fixtures"]
