"""The version of vak-tcn (one place; hatch reads it, the root package and every record name it)."""

__version__ = "0.1.0"
