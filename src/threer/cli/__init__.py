"""The command line: argument parsing, prompts and rendering over the core. Decides nothing."""
