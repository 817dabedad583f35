"""The `ponder` command: thin click commands over the library, flags generated from the settings."""
