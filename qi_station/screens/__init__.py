"""The TUI screens, one module per screen. Importing this package imports nothing heavy."""
