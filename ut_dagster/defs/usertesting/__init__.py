"""The UserTesting sync of this code location: defs.yaml names the integration's component."""
