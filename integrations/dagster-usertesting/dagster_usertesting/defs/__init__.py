"""The UserTesting sync: assets, checks, jobs, schedules and sensors per test partition."""
